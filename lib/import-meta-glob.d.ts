// Next's global types declare import.meta.glob's options without Vite's `exhaustive` (search hidden
// folders such as app/.well-known too), which the authorization sweep needs. Declaration merging.
interface ImportMetaGlobOptions {
  exhaustive?: boolean;
}
