/**
 * Messages between the playground page and its training worker. The page
 * never blocks: compiling and every GPU call happen in the worker, which
 * reports progress step by step.
 */

/** Page → worker. */
export type ToWorker =
  /** Compile `text` and train it from scratch for `steps` steps (replacing any model the worker holds). */
  | { readonly type: 'train'; readonly text: string; readonly path: string; readonly steps: number; readonly data: 'spec' | 'synthetic' | 'moby_dick'; readonly mobyDick?: Uint8Array }
  /** Stop after the step in progress (a checkpoint can still be downloaded). */
  | { readonly type: 'stop' }
  /** Continue the stopped or finished run up to step `steps` (its new total; the learning-rate schedule stretches to it). */
  | { readonly type: 'resume'; readonly steps: number }
  /** Send the current weights and optimizer state as a moec checkpoint. */
  | { readonly type: 'checkpoint' };

/** One MoE layer's expert load at a step. */
export interface LayerLoad {
  readonly block: number;
  /** Kept choices per expert. */
  readonly load: readonly number[];
}

/** Worker → page. */
export type FromWorker =
  | { readonly type: 'compiled'; readonly adapter: string; readonly kernels: number; readonly params: number; readonly data: string; readonly steps: number }
  | { readonly type: 'step'; readonly step: number; readonly loss: number; readonly valLoss?: number; readonly tokensPerSecond: number; readonly layers: readonly LayerLoad[] }
  | { readonly type: 'validation'; readonly step: number; readonly valLoss: number }
  /** Training ended: all steps done, or stopped on request. */
  | { readonly type: 'done'; readonly step: number; readonly stopped: boolean }
  | { readonly type: 'checkpoint'; readonly step: number; readonly bytes: ArrayBuffer; readonly name: string }
  /** A problem the user can act on (no WebGPU, the spec does not fit, bad data); `hint` says what to do. */
  | { readonly type: 'error'; readonly message: string; readonly hint?: string };
