// Events the engine emits, in order; reporters turn them into text. The engine never prints.
import type { ScenarioResult, RunSummary } from './types.ts';

export type Stage = 'tools' | 'fetch' | 'extract' | 'buildroot' | 'build' | 'initramfs' | 'boot' | 'snapshot' | 'run';

export type RigEvent =
  | { readonly type: 'stage'; readonly image?: string; readonly stage: Stage; readonly message: string }
  | {
      readonly type: 'progress';
      readonly image?: string;
      readonly stage: Stage;
      readonly label: string;
      readonly done: number;
      readonly total: number;
    }
  | { readonly type: 'run-start'; readonly image: string; readonly total: number }
  | { readonly type: 'scenario-start'; readonly image: string; readonly name: string; readonly index: number; readonly total: number }
  | { readonly type: 'scenario-end'; readonly result: ScenarioResult; readonly index: number; readonly total: number }
  | { readonly type: 'run-end'; readonly summary: RunSummary }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn'; readonly message: string };

export type EventSink = (event: RigEvent) => void;

/** A sink that drops everything (tests, quiet library use). */
export const nullSink: EventSink = () => {};
