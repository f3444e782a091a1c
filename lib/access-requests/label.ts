/** How an access request is named in the audit trail: who asked for what. */
export const accessRequestLabel = (email: string, resourceName: string, tool: string | null) => `${email} → ${resourceName}${tool ? ` (tool ${tool})` : ""}`;
