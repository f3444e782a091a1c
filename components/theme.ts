/** The cookie that keeps a person's theme choice (light, dark; absent: the system's). */
export const THEME_COOKIE = "iam_theme";
export const THEMES = ["system", "light", "dark"] as const;
export type Theme = (typeof THEMES)[number];
