// Who frees a GPU buffer. Every persistent buffer the engine allocates (tensors, the launchers'
// scratch, the uniform blocks of prepared dispatches) goes through `ownBuffer`, which hands it to the
// owner whose scope is open: a UNet plan, a sampler, a training step. `destroy()` frees everything an
// owner holds, and the owners opened inside its scope (a training step's UNet), so a page that swaps
// models and samplers for hours holds only what is live. (tfjs's `tidy`, made an object.)
// Scopes are synchronous (planning never awaits), so one stack per thread is enough. Buffers made
// outside every scope (tests, one-shot CLI tensors) belong to nobody and live as long as the device.

export class GpuOwner {
  private readonly buffers = new Set<GPUBuffer>();
  private readonly children = new Set<GpuOwner>();
  private parent: GpuOwner | undefined;
  private bytesHeld = 0;
  private isDestroyed = false;

  constructor(readonly label: string) {
    this.parent = current();
    this.parent?.children.add(this);
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

  /** Opens this owner's scope: buffers made until the returned function runs are this owner's. */
  enter(): () => void {
    if (this.isDestroyed) throw new Error(`${this.label}: planning into a destroyed GPU owner`);
    stack.push(this);
    return () => {
      if (stack.pop() !== this) throw new Error(`${this.label}: GPU owner scopes closed out of order`);
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
    this.parent?.children.delete(this);
    this.parent = undefined;
  }
}

const stack: GpuOwner[] = [];

function current(): GpuOwner | undefined {
  return stack[stack.length - 1];
}

/** Registers a newly created buffer with the owner whose scope is open (if any). */
export function ownBuffer(buffer: GPUBuffer): GPUBuffer {
  current()?.adopt(buffer);
  return buffer;
}
