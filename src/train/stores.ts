// A trainer's state to and from checkpoint tensors: parameter stores under name prefixes
// ("model/", "ema/", "adam_m/", or "models.250." for a layered sub-model).
import { upload } from '../gpu/tensor';
import { expectFinite, type HostTensor, type SafetensorsFile } from '../host/tensor';
import type { ParamStore } from '../nn/params';

/** Every store's tensors under its prefix; refuses non-finite values (a diverged run never replaces a good checkpoint). */
export async function readStores(stores: readonly (readonly [string, ParamStore])[], context: string): Promise<Map<string, HostTensor>> {
  const tensors = new Map<string, HostTensor>();
  for (const [prefix, store] of stores) {
    for (const [name, t] of await store.read()) {
      expectFinite(t, prefix + name, context);
      tensors.set(prefix + name, t);
    }
  }
  return tensors;
}

/** Fills every store from the file's tensors under its prefix; all are validated before any is written. */
export function restoreStores(file: SafetensorsFile, source: string, stores: readonly (readonly [string, ParamStore])[]): void {
  const images = stores.map(([prefix, store]) => store.pack(file, source, prefix));
  stores.forEach(([, store], i) => upload(store.device, store.flat, images[i]!));
}
