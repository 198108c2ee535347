// An indexed binary min-heap of deadlines: the runner's single timer queue. Each item remembers its
// slot, so moving a session's deadline is O(log n) and no stale entries pile up, which matters at
// thousands of reschedules a second.

export interface HeapItem {
  /** Position in the heap; -1 while not queued. Owned by the heap. */
  heapIndex: number;
  /** The key; read only while queued. Owned by the heap. */
  deadline: number;
}

export class DeadlineHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.items[item.heapIndex] === item;
  }

  /** Queues `item` at `deadline`, or moves it there if it is already queued. */
  set(item: T, deadline: number): void {
    if (!this.has(item)) {
      item.deadline = deadline;
      item.heapIndex = this.items.length;
      this.items.push(item);
      this.up(item.heapIndex);
      return;
    }
    const before = item.deadline;
    item.deadline = deadline;
    if (deadline < before) this.up(item.heapIndex);
    else if (deadline > before) this.down(item.heapIndex);
  }

  delete(item: T): boolean {
    if (!this.has(item)) return false;
    const i = item.heapIndex;
    const last = this.items.pop()!;
    item.heapIndex = -1;
    if (last !== item) {
      this.items[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(last.heapIndex);
    }
    return true;
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top) this.delete(top);
    return top;
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (p.deadline <= item.deadline) break;
      items[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && items[r]!.deadline < items[l]!.deadline) c = r;
      const child = items[c]!;
      if (child.deadline >= item.deadline) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
