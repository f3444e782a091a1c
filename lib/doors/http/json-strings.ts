/**
 * Every string of a parsed JSON document, keys and values, with where it is ("emails[0].display";
 * a key's path is its object's). A loop, not recursion: JSON.parse takes nesting a recursive walk
 * would overflow the stack on. The lean server looks for lone surrogates with it, SCIM for values
 * too long.
 */
export function* jsonStrings(document: unknown): Generator<[path: string, text: string]> {
  const pending: [unknown, string][] = [[document, ""]];
  while (pending.length) {
    const [value, path] = pending.pop()!;
    if (typeof value === "string") yield [path, value];
    else if (Array.isArray(value)) value.forEach((v, i) => pending.push([v, `${path}[${i}]`]));
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        yield [path, k];
        pending.push([v, path ? `${path}.${k}` : k]);
      }
    }
  }
}
