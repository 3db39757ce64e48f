// A training loop of your own around a model compiled by `moec compile`.
//
//   npm install moec                      # in your project
//   npx moec compile specs/switch.moe -o my_model
//   npx tsx custom_loop.ts
//
// The compiled class does the GPU work of a step (forward, backward,
// clipping, AdamW); you choose the data, the schedule and what to log.
import { ModelRuntime, SyntheticCorpus } from 'moec/runtime';
import { SwitchModel } from './my_model/model.ts';

const rt = await ModelRuntime.open(new URL('./my_model', import.meta.url).pathname);
const model = new SwitchModel(rt);
await model.allocate();
await rt.initialize(1); // seeded initial parameters (docs/MODEL.md)

const data = new SyntheticCorpus(1);
const steps = Number(process.argv[2] ?? 40);
for (let step = 1; step <= steps; step++) {
  const batch = data.batch('train', step, SwitchModel.batch, SwitchModel.context);
  const lr = 3e-3 * Math.min(1, step / 10); // warm-up, then constant
  await model.trainStep([batch], { lr, step });
  if (step % 10 === 0 || step === 1) {
    const loss = (await rt.read(['loss.cross_entropy'])).get('loss.cross_entropy')![0]!;
    console.log(`step ${step}  loss ${loss.toFixed(3)}`);
  }
}
