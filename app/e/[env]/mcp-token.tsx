"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { fetchAccessToken } from "./access-token";

/** A short-lived access token for one MCP server, to paste into an MCP client. */
export function McpToken({ envKey, audience }: { envKey: string; audience: string }) {
  const [token, setToken] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <div className="mt-2">
      <Button
        type="button"
        variant="secondary"
        onClick={async () => {
          const r = await fetchAccessToken(envKey, audience);
          if ("token" in r) setToken(r.token);
          else setError(r.error);
        }}
      >
        Get an access token
      </Button>
      {token && <textarea readOnly aria-label="Access token" className="mt-2 h-20 w-full rounded border border-slate-300 p-2 font-mono text-xs" value={token} />}
      {error && <p className="mt-2 text-sm text-red-700">{error}</p>}
    </div>
  );
}
