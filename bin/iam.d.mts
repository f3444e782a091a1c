/** Runs one `iam` command; resolves with the exit code. */
export function main(argv: string[], io?: { env?: Record<string, string | undefined>; out?: (line: string) => void; err?: (line: string) => void }): Promise<number>;
