/** "1 member", "2 members", "1,200 members": a count with its noun in the right number. */
export function counted(n: number, one: string, other = `${one}s`): string {
  return `${n.toLocaleString("en")} ${n === 1 ? one : other}`;
}
