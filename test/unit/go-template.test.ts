// The Go-template subset of `--format`, against what docker (Go's text/template + docker/cli's formatter) prints
// for the same template and data. The expected strings are docker 28's outputs for these templates.
import { describe, expect, it } from 'vitest';
import { alignColumns, formatDocument, formatRows } from '../../src/cli/format.js';
import { dockerSize } from '../../src/cli/image-rows.js';
import { pathMatch } from '../../src/cli/image-filter.js';
import { DheError } from '../../src/errors.js';

const doc = {
  Id: 'sha256:abc',
  RepoTags: ['alpine:3.20', 'alpine:latest'],
  Config: { Env: ['PATH=/usr/bin', 'A=b'], Labels: { 'org.opencontainers.image.version': '1.0', maintainer: 'Me' }, Cmd: null, User: '' },
  Size: 7800000,
  Ratio: 0.5,
  Ok: true,
};
const row = { Repository: 'alpine', Tag: '3.20', ID: '0123456789ab', Digest: 'sha256:ff', CreatedSince: '2 weeks ago', CreatedAt: '2024-01-02 15:04:05 +0000 UTC', Size: '7.8MB' };
const headers = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE' };

describe('Go templates as docker inspect --format prints them', () => {
  const cases: Array<[string, string]> = [
    ['{{.Id}}', 'sha256:abc\n'],
    ['{{.Config.Env}}', '[PATH=/usr/bin A=b]\n'],
    ['{{json .Config.Env}}', '["PATH=/usr/bin","A=b"]\n'],
    ['{{json .Config.Cmd}}', 'null\n'],
    ['{{.Config.Cmd}}', '<nil>\n'],
    ['{{.Config.Labels}}', 'map[maintainer:Me org.opencontainers.image.version:1.0]\n'],
    ['{{index .Config.Labels "org.opencontainers.image.version"}}', '1.0\n'],
    ['{{index .Config.Labels "missing"}}', '<no value>\n'],
    ['{{.Config.Labels.maintainer}}', 'Me\n'],
    ['{{.Config.Labels.nothere}}', '<no value>\n'],
    ['{{index .RepoTags 1}}', 'alpine:latest\n'],
    ['{{join .RepoTags ","}}', 'alpine:3.20,alpine:latest\n'],
    ['{{range .RepoTags}}{{.}} {{end}}', 'alpine:3.20 alpine:latest \n'],
    ['{{range .Config.Env}}{{println .}}{{end}}', 'PATH=/usr/bin\nA=b\n\n'],
    ['{{range .Config.Cmd}}x{{else}}none{{end}}', 'none\n'],
    ['{{if .Config.User}}{{.Config.User}}{{else}}root{{end}}', 'root\n'],
    ['{{if eq .Id "x"}}x{{else if .Ok}}ok{{end}}', 'ok\n'],
    ['{{with .Config}}{{len .Env}}{{end}}', '2\n'],
    ['{{lower .Config.Labels.maintainer}} {{upper "a"}}', 'me A\n'],
    ['{{.Config.Labels.maintainer | upper}}', 'ME\n'],
    ['{{.Size}} {{.Ratio}} {{.Ok}}', '7800000 0.5 true\n'],
    ['{{printf "%s-%d" .Id .Size}}', 'sha256:abc-7800000\n'],
    ['{{split "a:b" ":"}}', '[a b]\n'],
    ['a  {{- .Ok -}}  b', 'atrueb\n'],
    ['{{json .Config.Labels}}', '{"org.opencontainers.image.version":"1.0","maintainer":"Me"}\n'],
    ['  {{.Id}}\\t{{.Ok}}  ', 'sha256:abc\ttrue\n'],
  ];
  for (const [template, expected] of cases) {
    it(template, () => expect(formatDocument(template, doc)).toBe(expected));
  }

  it('an unknown field of the document is a usage error naming the valid ones; a bad template too', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as DheError;
      }
      throw new Error('no error');
    };
    const unknown = err(() => formatDocument('{{.Nope}}', doc));
    expect(unknown).toBeInstanceOf(DheError);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.message).toBe('template: unknown field .Nope; valid fields: .Id .RepoTags .Config .Size .Ratio .Ok');
    expect(err(() => formatDocument('{{.Id', doc)).message).toMatch(/^template: unclosed action/);
    expect(err(() => formatDocument('{{nosuch .Id}}', doc)).message).toBe('template: function "nosuch" not defined');
    expect(err(() => formatDocument('{{if .Ok}}x', doc)).message).toMatch(/has no \{\{end\}\}/);
  });
});

describe('docker images --format rows and tables', () => {
  it('one line per row; table aligns as docker tabwriter (min width 10, padding 3) with headers', () => {
    const rows = [row, { ...row, Repository: 'localhost:5000/team/application', Tag: 'latest', Size: '126B' }];
    expect(formatRows('{{.Repository}}:{{.Tag}}', rows, headers)).toBe('alpine:3.20\nlocalhost:5000/team/application:latest\n');
    expect(formatRows('table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}', rows, headers)).toBe(
      'REPOSITORY                        TAG       SIZE\n' +
        'alpine                            3.20      7.8MB\n' +
        'localhost:5000/team/application   latest    126B\n',
    );
    expect(formatRows('table {{.ID}}', [], headers)).toBe('IMAGE ID\n');
    expect(formatRows('{{json .}}', [row], headers)).toBe(`${JSON.stringify(row)}\n`);
    expect(() => formatRows('{{.Created}}', [row], headers)).toThrow(
      'template: unknown field .Created; valid fields: .Repository .Tag .ID .Digest .CreatedSince .CreatedAt .Size',
    );
  });

  it('tabwriter: cells shorter than 10 pad to 10; the last cell is not padded', () => {
    expect(alignColumns('a\tb\nlonger-than-ten\tc')).toBe(`a${' '.repeat(17)}b\nlonger-than-ten   c`);
  });

  it("sizes as go-units HumanSizeWithPrecision(n, 3)", () => {
    expect([0, 126, 999, 1000, 1024, 7_800_000, 123_456_789, 5_000_000_000].map(dockerSize)).toEqual(['0B', '126B', '999B', '1kB', '1.02kB', '7.8MB', '123MB', '5GB']);
  });

  it("reference=PATTERN is Go's path.Match", () => {
    expect(pathMatch('app/*', 'app/web')).toBe(true);
    expect(pathMatch('app/*', 'app/web/x')).toBe(false);
    expect(pathMatch('*', 'localhost:5000/app')).toBe(false);
    expect(pathMatch('alp?ne:3.*', 'alpine:3.20')).toBe(true);
    expect(pathMatch('[a-c]lpine', 'alpine')).toBe(true);
    expect(pathMatch('[^a]lpine', 'alpine')).toBe(false);
    expect(pathMatch('[!a]lpine', 'alpine')).toBe(true); // Go negates with ^ only
  });
});
