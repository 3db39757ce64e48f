/**
 * `npm run soak`: the reliability checks too slow for the test suite —
 * SIGKILLs during training with a resume after each, a disk that fills up
 * mid-run (root only), and the value fuzzer through the checker and `moec test`. Prints a JSON report (the figures
 * docs/RELIABILITY.md records) and exits 1 when anything went wrong.
 * Options: --kills N (default 12), --mutants N (5000), --tests N (100), --seed N.
 */
import { diskFullSoak } from './disk_full.ts';
import { killResumeSoak } from './kill_resume.ts';
import { valueFuzz } from './value_fuzzer.ts';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0) {
    process.stderr.write(`soak: --${name} needs a non-negative integer\n`);
    process.exit(2);
  }
  return v;
}

const seed = option('seed', 20261202);
const kills = option('kills', 12);
const mutants = option('mutants', 5000);
const tests = option('tests', 100);

const kill = kills ? await killResumeSoak(kills, 60, seed) : undefined;
if (kill) process.stderr.write(`soak: ${kill.kills} kills at steps ${kill.stepsAtKill.join(', ')}; ${kill.problems.length} problems (${kill.seconds.toFixed(0)} s)\n`);
const disk = await diskFullSoak();
process.stderr.write(`soak: disk full: ${disk.ran ? `stopped at step ${disk.stepAtFull}: ${disk.message}; ${disk.problems.length} problems` : `not run (${disk.skipped})`}\n`);
const fuzz = valueFuzz(mutants, tests, seed);
process.stderr.write(`soak: ${fuzz.mutants} mutants, ${fuzz.accepted} accepted; moec test on ${fuzz.tested}; ${fuzz.problems.length} problems (${fuzz.seconds.toFixed(0)} s)\n`);
process.stdout.write(`${JSON.stringify({ seed, kill, disk, fuzz }, null, 1)}\n`);
const problems = [...(kill?.problems ?? []), ...disk.problems, ...fuzz.problems];
for (const p of problems) process.stderr.write(`soak: PROBLEM ${p}\n`);
process.exitCode = problems.length ? 1 : 0;
