// Events every stage emits (fetching, building, booting ...), in order; reporters turn them into text. The stages
// never print. A run's own events (scenario and image results) extend these in report/results.ts.

export type Stage = 'tools' | 'fetch' | 'extract' | 'buildroot' | 'build' | 'initramfs' | 'boot' | 'snapshot' | 'run';

export type RigEvent =
  | { readonly type: 'stage'; readonly image?: string; readonly stage: Stage; readonly message: string }
  | {
      readonly type: 'progress';
      readonly image?: string;
      readonly stage: Stage;
      readonly label: string;
      /** Items done of total (packages fetched, objects built): a count, never bytes. */
      readonly done: number;
      readonly total: number;
    }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn'; readonly message: string };

export type EventSink = (event: RigEvent) => void;

/** A sink that drops everything (tests, quiet library use). */
export const nullSink: EventSink = () => {};
