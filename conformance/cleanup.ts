/**
 * Everything the kit creates registers how to remove it here, before or right after it exists;
 * `runAll` removes it all in reverse order, whatever happened (a failed step, Ctrl-C, SIGTERM), and
 * says what it could not remove, with the command that removes it by hand.
 */

export interface Cleanup {
  /** What it removes, e.g. `S3 bucket rr-conformance-1a2b3c4d`. */
  what: string;
  /** The manual command when the automatic removal fails. */
  manually?: string;
  run(): Promise<unknown>;
}

export class Cleanups {
  readonly #items: Cleanup[] = [];
  readonly #say: (line: string) => void;

  constructor(say: (line: string) => void) {
    this.#say = say;
  }

  add(item: Cleanup): void {
    this.#items.push(item);
  }

  get pending(): readonly Cleanup[] {
    return this.#items;
  }

  /** Removes everything registered (last first); returns what is left behind. */
  async runAll(): Promise<Cleanup[]> {
    const left: Cleanup[] = [];
    while (this.#items.length > 0) {
      const item = this.#items.pop()!;
      try {
        await item.run();
        this.#say(`cleanup: removed ${item.what}`);
      } catch (error) {
        left.push(item);
        this.#say(
          `cleanup: COULD NOT remove ${item.what}: ${error instanceof Error ? error.message : String(error)}${item.manually ? `\n  remove it by hand: ${item.manually}` : ""}`,
        );
      }
    }
    return left;
  }
}
