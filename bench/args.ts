// Command-line reading shared by the benches: options in order, each value checked where it is read.

export interface ArgCursor {
  /** The option being read (e.g. `--seconds`). */
  readonly name: string;
  /** Its value (the next argument); throws with the usage when there is none. */
  value(): string;
  /** `s` as an integer in lo..hi; throws naming the option otherwise. */
  int(s: string, lo: number, hi: number): number;
}

/** Calls `each` once per option of `argv`; it reads the option's value through the cursor. */
export function readArgs(argv: string[], usage: string, each: (c: ArgCursor) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!;
    each({
      name,
      value: () => {
        const x = argv[++i];
        if (x === undefined) throw new Error(`${name} needs a value\n${usage}`);
        return x;
      },
      int: (s, lo, hi) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${name} must be an integer in ${lo}..${hi}`);
        return n;
      },
    });
  }
}
