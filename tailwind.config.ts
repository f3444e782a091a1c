import type { Config } from "tailwindcss";

export default {
  content: ["./app/**/*.{ts,tsx}", "./components/**/*.{ts,tsx}"],
  // The brand colours are theme variables in app/globals.css (@theme), so the dark theme can redefine them.
  theme: {},
} satisfies Config;
