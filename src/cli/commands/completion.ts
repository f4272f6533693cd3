import { DheError } from '../../errors.js';
import { defineCommand } from '../define.js';

const COMMANDS = [
  'login', 'logout', 'tag', 'push', 'pull', 'images', 'rmi', 'prune', 'inspect', 'save', 'load', 'copy', 'tags',
  'catalog', 'delete', 'digest', 'mutate', 'append', 'doctor', 'store', 'completion', 'help',
];
const GLOBAL = [
  '--config', '--store', '--ca-cert', '--cert', '--key', '--certs-dir', '--insecure-registry', '--platform',
  '--concurrency', '--debug', '--quiet', '--no-color', '--help', '--version',
];
const PER: Record<string, string[]> = {
  login: ['--username', '--password', '--password-stdin'],
  pull: ['--all-platforms'],
  images: ['--digests', '--no-trunc', '--format', '--filter'],
  inspect: ['--remote', '--format'],
  save: ['--output', '--format'],
  load: ['--input'],
  copy: ['--all-platforms'],
  tags: ['--format'],
  catalog: ['--format'],
  mutate: ['--tag', '--env', '--label', '--entrypoint', '--cmd', '--workdir', '--user', '--expose'],
  append: ['--layer', '--tag'],
  doctor: ['--repo', '--format'],
  store: ['verify'],
  completion: ['bash', 'zsh'],
};

function bashScript(): string {
  const cases = Object.entries(PER)
    .map(([c, opts]) => `    ${c}) extra="${opts.join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for dhe-cli
_dhe_cli() {
  local cur cmd extra i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [ -z "$cmd" ]; then
    COMPREPLY=( $(compgen -W "${COMMANDS.join(' ')} ${GLOBAL.join(' ')}" -- "$cur") )
    return
  fi
  extra=""
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* || "$cmd" == store || "$cmd" == completion ]]; then
    COMPREPLY=( $(compgen -W "$extra ${GLOBAL.join(' ')}" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -F _dhe_cli dhe-cli
`;
}

function zshScript(): string {
  return `#compdef dhe-cli
# zsh completion for dhe-cli (uses bash completion emulation)
autoload -U +X bashcompinit && bashcompinit
${bashScript()}`;
}

export default defineCommand({
  meta: {
    name: 'completion',
    description: 'print a shell completion script',
    examples: ['dhe-cli completion bash > /etc/bash_completion.d/dhe-cli', 'source <(dhe-cli completion zsh)'],
  },
  args: { shell: { required: true, description: 'bash or zsh' } },
  async run(ctx, { shell }) {
    if (shell === 'bash') ctx.out.result(bashScript());
    else if (shell === 'zsh') ctx.out.result(zshScript());
    else throw new DheError('USAGE', `no completion for shell "${shell}"`, { hint: 'use bash or zsh' });
    return 0;
  },
});
