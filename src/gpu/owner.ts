// Who frees a GPU buffer. Every persistent buffer the engine allocates (tensors, the launchers'
// scratch, the uniform blocks of prepared dispatches) goes through `allocateBuffer`, which hands it to
// the owner whose scope is open: a UNet plan, a sampler, a training step. `destroy()` frees everything an
// owner holds, and the owners opened inside its scope (a training step's UNet), so a page that swaps
// models and samplers for hours holds only what is live. (tfjs's `tidy`, made an object.)
// Scopes are synchronous (planning never awaits), so one stack per thread is enough. Buffers made
// outside every scope (tests, one-shot CLI tensors) belong to nobody and live as long as the device.
//
// A dry owner plans without allocating: inside its scope (and its children's) `allocateBuffer` hands
// out placeholders that have a size and a label and nothing on the GPU, and makeDispatch builds no
// pipeline or bind group. The memory estimate is such a dry run of the real planner, so it counts
// exactly what a real plan would allocate, at any size, without touching the GPU.

export class GpuOwner {
  /** Plans without allocating (inherited by owners opened inside this one's scope). */
  readonly dry: boolean;
  private readonly buffers = new Set<GPUBuffer>();
  private readonly children = new Set<GpuOwner>();
  private parent: GpuOwner | undefined;
  private bytesHeld = 0;
  private largest = 0;
  private readonly notes: string[] = [];
  private isDestroyed = false;

  constructor(readonly label: string, options: { dry?: boolean } = {}) {
    this.parent = current();
    this.parent?.children.add(this);
    this.dry = options.dry ?? this.parent?.dry ?? false;
  }

  /** The largest single buffer this owner and its children hold, in bytes. */
  get largestBuffer(): number {
    let b = this.largest;
    for (const c of this.children) b = Math.max(b, c.largestBuffer);
    return b;
  }

  /** Bytes of the buffers this owner and its children hold. */
  get bytes(): number {
    let b = this.bytesHeld;
    for (const c of this.children) b += c.bytes;
    return b;
  }

  get destroyed(): boolean {
    return this.isDestroyed;
  }

  /** Limits a dry run found exceeded (a real plan throws on the first). */
  get problems(): string[] {
    return [...this.notes, ...[...this.children].flatMap((c) => c.problems)];
  }

  noteProblem(message: string): void {
    this.notes.push(message);
  }

  /** Opens this owner's scope: buffers made until the returned function runs are this owner's. */
  private enter(): () => void {
    if (this.isDestroyed) throw new Error(`${this.label}: planning into a destroyed GPU owner`);
    stack.push(this);
    return () => {
      if (stack.pop() !== this) throw new Error(`${this.label}: GPU owner scopes closed out of order`);
    };
  }

  /**
   * Opens this owner's scope for a plan built by a constructor (whose fields cannot be assigned from
   * a callback): `keep()` once planning has finished, then `close()` in a finally. Closing a scope
   * that was not kept (planning threw) frees what it allocated so far.
   */
  open(): { keep: () => void; close: () => void } {
    const exit = this.enter();
    let kept = false;
    return {
      keep: () => void (kept = true),
      close: () => {
        exit();
        if (!kept) this.destroy();
      },
    };
  }

  /** Runs `plan` inside this owner's scope. */
  run<T>(plan: () => T): T {
    const exit = this.enter();
    try {
      return plan();
    } finally {
      exit();
    }
  }

  adopt(buffer: GPUBuffer): void {
    this.buffers.add(buffer);
    this.bytesHeld += buffer.size;
    this.largest = Math.max(this.largest, buffer.size);
  }

  /** Frees every buffer this owner and its children hold; idempotent. */
  destroy(): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    for (const c of this.children) c.destroy();
    for (const b of this.buffers) b.destroy();
    this.buffers.clear();
    this.children.clear();
    this.bytesHeld = 0;
    this.largest = 0;
    this.parent?.children.delete(this);
    this.parent = undefined;
  }
}

// NO_OWNER on top of the stack: buffers made now belong to nobody (shared per-device constants).
const NO_OWNER = null;
const stack: (GpuOwner | typeof NO_OWNER)[] = [];

function current(): GpuOwner | undefined {
  return stack[stack.length - 1] ?? undefined;
}

/** Whether the open scope is a dry run (launchers then build no pipelines or bind groups). */
export function planningDry(): boolean {
  return current()?.dry ?? false;
}

/** A placeholder buffer nobody counts: what a dry run binds where a real plan binds a shared constant. */
export function uncountedPlaceholder(size: number, label: string): GPUBuffer {
  return new DryBuffer(size, 0, label) as unknown as GPUBuffer;
}

/** A limit the plan exceeds: thrown at once, or in a dry run noted on the owner and planning goes on
 *  (the estimate reports it). */
export function limitExceeded(message: string): void {
  const owner = current();
  if (!owner?.dry) throw new Error(message);
  owner.noteProblem(message);
}

/** What a dry run allocates instead of a GPU buffer: the size and label, nothing else. */
class DryBuffer {
  constructor(readonly size: number, readonly usage: number, public label: string) {}
  destroy(): void {}
}

/**
 * A constant shared by every plan on a device (the timestep frequencies, the placeholder binding),
 * made by `make` outside every owner's scope so that freeing one plan never frees it, and cached by
 * the caller. In a dry run it returns undefined and the caller uses `make`'s dry twin, uncounted: a
 * real plan does not own the shared constant either.
 */
export function sharedOutsideOwners<T>(make: () => T): T | undefined {
  if (planningDry()) return undefined;
  stack.push(NO_OWNER);
  try {
    return make();
  } finally {
    stack.pop();
  }
}

/** Whether `buffer` is a dry run's placeholder (writes to it are dropped: a dry plan is never run). */
export function isPlaceholder(buffer: GPUBuffer): boolean {
  return (buffer as unknown) instanceof DryBuffer;
}

/** Every persistent engine buffer is made here: a GPU buffer (or, in a dry run, a placeholder)
 *  handed to the owner whose scope is open. */
export function allocateBuffer(device: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
  const owner = current();
  // A placeholder is never bound or written: only its size and label are read, by the owner.
  const buffer = owner?.dry
    ? (new DryBuffer(descriptor.size, descriptor.usage, descriptor.label ?? '') as unknown as GPUBuffer)
    : device.createBuffer(descriptor);
  owner?.adopt(buffer);
  return buffer;
}
