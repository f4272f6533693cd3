// Progress events: the library emits them, the CLI renders them (plain lines, or live progress on a TTY).

export type LayerStatus =
  | 'waiting'
  | 'downloading'
  | 'download-complete'
  | 'pull-complete'
  | 'already-exists'
  | 'pushing'
  | 'pushed'
  | 'layer-exists'
  | 'mounted';

export type TransferEvent =
  | { type: 'pull-start'; reference: string; tag: string; repository: string }
  | { type: 'push-start'; reference: string; repository: string }
  | { type: 'resolved'; digest: string; mediaType: string; platform?: string }
  | { type: 'layer'; id: string; digest: string; size: number; status: LayerStatus; from?: string }
  | { type: 'progress'; id: string; digest: string; bytes: number; total: number }
  /** A blob continues an interrupted transfer of an earlier run from `offset` bytes. */
  | { type: 'resuming'; id: string; digest: string; direction: 'upload' | 'download'; offset: number }
  | { type: 'manifest-pushed'; tag: string; digest: string; size: number }
  | { type: 'note'; message: string };

export type EventSink = (e: TransferEvent) => void;

export const noEvents: EventSink = () => {};
