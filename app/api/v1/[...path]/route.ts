import { handleApiRequest } from "@/lib/doors/rest/handler";

// The admin REST API: one dispatcher for every /api/v1 endpoint (lib/doors/rest/v1.ts lists them).
export const GET = (request: Request) => handleApiRequest(request, "GET");
export const POST = (request: Request) => handleApiRequest(request, "POST");
export const PATCH = (request: Request) => handleApiRequest(request, "PATCH");
export const PUT = (request: Request) => handleApiRequest(request, "PUT");
export const DELETE = (request: Request) => handleApiRequest(request, "DELETE");
