import { handleGenieMessage } from "@/lib/doors/components/genie";

// A genie's message endpoint: bearer access token (aud agent_studio) → verify → live policy → fixed reply.
export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handleGenieMessage(request, (await params).id);
}
