"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { fetchAccessToken } from "../../access-token";

type Entry = { from: "you" | "genie" | "denied"; text: string };

/** Sends each message to the genie endpoint with a fresh access token; shows the reply or the denial reason. */
export function GenieChat({ envKey, genieId }: { envKey: string; genieId: string }) {
  const [log, setLog] = useState<Entry[]>([]);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const send = async () => {
    const text = message.trim();
    if (!text) return;
    setBusy(true);
    setLog((l) => [...l, { from: "you", text }]);
    setMessage("");
    try {
      const token = await fetchAccessToken(envKey, "agent_studio");
      if ("error" in token) return setLog((l) => [...l, { from: "denied", text: token.error }]);
      const res = await fetch(`/api/genies/${genieId}/messages`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token.token}` }, body: JSON.stringify({ message: text }) });
      const body = (await res.json()) as { reply?: string; reason?: string; message?: string };
      setLog((l) => [...l, res.ok && body.reply ? { from: "genie", text: body.reply } : { from: "denied", text: `Refused (${body.reason ?? res.status}): ${body.message ?? ""}` }]);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="mt-4 flex flex-col gap-3">
      <ol aria-label="Conversation" aria-live="polite" className="flex flex-col gap-2" data-testid="genie-log">
        {log.map((e, i) => (
          <li key={i} data-from={e.from} className={`rounded-md px-3 py-2 text-sm ${e.from === "you" ? "self-end bg-brand-600 text-white" : e.from === "genie" ? "bg-slate-100" : "border border-red-300 bg-red-50 text-red-800"}`}>
            {e.text}
          </li>
        ))}
      </ol>
      <form
        className="flex gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label htmlFor="genie-message" className="sr-only">
          Message
        </label>
        <input id="genie-message" value={message} onChange={(e) => setMessage(e.target.value)} maxLength={4000} className="flex-1 rounded-md border border-slate-300 px-3 py-2 text-sm" placeholder="Ask the genie" />
        <Button type="submit" disabled={busy || !message.trim()}>
          Send
        </Button>
      </form>
    </div>
  );
}
