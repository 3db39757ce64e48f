/**
 * The moec runtime library: what a compiled model (`moec compile`'s
 * model.ts) imports, and what a training loop of your own needs.
 */
export { ModelRuntime, type Manifest, type Workgroups } from './model_runtime.ts';
export type { HostArray } from './executor.ts';
export { acquireGpu, sharedGpu, type Gpu } from './gpu.ts';
export type { Batch, DataSource } from './data/batch.ts';
export { SyntheticCorpus, SUB_LANGUAGES } from './data/synthetic.ts';
export { TextFile } from './data/text_file.ts';
export { learningRate } from './lr_schedule.ts';
