// Command-line reading shared by the benches: options in order, each value checked where it is
// read, and every refusal names the option and ends with the bench's usage.

export interface ArgCursor {
  /** The option being read (e.g. `--seconds`). */
  readonly name: string;
  /** Its value (the next argument); throws with the usage when there is none. */
  value(): string;
  /** `s` as an integer in lo..hi; throws naming the option otherwise. */
  int(s: string, lo: number, hi: number): number;
  /** `s` as a finite number in lo..hi (fractions allowed). */
  num(s: string, lo: number, hi: number): number;
  /** `s` as a comma-separated list of integers in lo..hi (at least one). */
  list(s: string, lo: number, hi: number): number[];
  /** `s` if it is one of `choices`. */
  oneOf<T extends string>(s: string, choices: readonly T[]): T;
  /** Refuses the option's value: "<option> must be <what>", then the usage. */
  refuse(what: string): never;
  /** Refuses the option itself: unknown, or `--help`. */
  unknown(): never;
}

/** Calls `each` once per option of `argv`; it reads the option's value through the cursor. */
export function readArgs(argv: string[], usage: string, each: (c: ArgCursor) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!;
    const refuse = (what: string): never => {
      throw new Error(`${name} must be ${what}\n${usage}`);
    };
    each({
      name,
      value: () => {
        const x = argv[++i];
        if (x === undefined) throw new Error(`${name} needs a value\n${usage}`);
        return x;
      },
      int: (s, lo, hi) => {
        const n = Number(s);
        return s.trim() !== '' && Number.isInteger(n) && n >= lo && n <= hi ? n : refuse(`an integer in ${lo}..${hi}`);
      },
      num: (s, lo, hi) => {
        const n = Number(s);
        return s.trim() !== '' && Number.isFinite(n) && n >= lo && n <= hi ? n : refuse(`a number in ${lo}..${hi}`);
      },
      list: (s, lo, hi) => {
        const xs = s.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
        return xs.every((x) => Number.isInteger(x) && x >= lo && x <= hi) ? xs : refuse(`a comma-separated list of integers in ${lo}..${hi}`);
      },
      refuse,
      oneOf: (s, choices) => ((choices as readonly string[]).includes(s) ? (s as (typeof choices)[number]) : refuse(`one of ${choices.join(', ')}`)),
      unknown: () => {
        if (name === '--help' || name === '-h') throw new Error(usage);
        throw new Error(`unknown option ${JSON.stringify(name)}\n${usage}`);
      },
    });
  }
}

/** `parse()`, or, when it refuses the command line, its message on stderr and exit status 2. */
export function argsOrExit<T>(bench: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    process.stderr.write(`${bench}: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
