ALTER TABLE "identity_providers" ADD COLUMN "auto_trust_rollover" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- Certificates connected before this: trusted as they were (approved), read from the IdP's
-- metadata URL (or pasted XML) when they were added.
UPDATE "identity_providers" SET "certificates" = (
  SELECT coalesce(jsonb_agg(c || jsonb_build_object('status', 'approved', 'source', "metadata_url", 'lastSeenAt', c -> 'addedAt') ORDER BY n), '[]'::jsonb)
  FROM jsonb_array_elements("certificates") WITH ORDINALITY AS t(c, n)
);
