// Prints the WebGPU adapter Dawn finds and exits 0, or exits 1 when there is none.
// Run in its own process by scripts/setup.sh so a driver crash cannot take the caller down.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const timer = setTimeout(() => {
  console.error('no WebGPU adapter: probing timed out after 30 s');
  process.exit(1);
}, 30_000);
try {
  const gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    console.error('no WebGPU adapter found');
    process.exit(1);
  }
  const device = await adapter.requestDevice();
  const info = adapter.info;
  console.log(`WebGPU adapter: ${info.vendor || 'unknown vendor'} ${info.architecture || ''} ${info.device || ''} ${info.description || ''}`.replace(/\s+/g, ' ').trim());
  device.destroy();
  clearTimeout(timer);
  process.exit(0);
} catch (e) {
  console.error(`no WebGPU adapter: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
