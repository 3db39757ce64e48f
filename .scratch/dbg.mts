import { readFileSync } from 'node:fs';
const [a, b] = process.argv.slice(2).map((p) => readFileSync(p));
console.log('sizes', a.length, b.length);
const h = a.indexOf(0x0a) + 1;
console.log('headers equal', a.subarray(0, h).equals(b.subarray(0, b.indexOf(0x0a) + 1)));
const ia = new Int32Array(a.buffer.slice(h)), ib = new Int32Array(b.buffer.slice(h));
const hdr = JSON.parse(a.subarray(0, h - 1).toString());
const per = 2 + hdr.tables.reduce((n: number, t: any) => n + t.shape[0] * t.shape[1], 0);
for (let r = 0; r * per < Math.max(ia.length, ib.length); r++) {
  let diff = 0; for (let i = 0; i < per; i++) if (ia[r * per + i] !== ib[r * per + i]) diff++;
  console.log('record', r, 'step', ia[r * per], ib[r * per], 'micro', ia[r * per + 1], ib[r * per + 1], 'diffs', diff);
}
