/** LIKE's wildcards (\, %, _) escaped, so a typed fragment matches literally (Postgres's default escape is \). */
export const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** "%fragment%", lower-cased, wildcards literal: a case-insensitive substring match against lower(column). */
export const containsPattern = (s: string): string => `%${escapeLike(s.toLowerCase())}%`;
