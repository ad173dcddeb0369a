// Runs async tasks one at a time. Request handling awaits storage writes, so without this two
// requests could interleave a read-modify-write (KV check-and-set, version numbers) or race a seal.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
