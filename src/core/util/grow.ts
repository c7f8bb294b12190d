/** Growable typed arrays, for building large arrays of numbers without a JS array per element. */

/** A growable Int32Array / Float64Array. */
export class Grow<T extends Int32Array | Float64Array> {
  length = 0;
  constructor(public data: T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new (this.data.constructor as new (n: number) => T)(Math.max(16, this.data.length * 2));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  get(i: number): number {
    return this.data[i]!;
  }
  /** Moves the values onto shared memory (a SharedArrayBuffer) and returns them (exactly `length`). */
  share(): T {
    const Ctor = this.data.constructor as new (b: SharedArrayBuffer) => T;
    const shared = new Ctor(new SharedArrayBuffer(this.length * this.data.BYTES_PER_ELEMENT));
    shared.set(this.data.subarray(0, this.length));
    this.data = shared;
    return shared;
  }
  /** Takes `values` (all of them) as its values. */
  adopt(values: T): void {
    this.data = values;
    this.length = values.length;
  }
}
