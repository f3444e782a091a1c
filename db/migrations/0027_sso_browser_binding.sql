-- Sign-ins pending from before the browser binding cannot be bound to a browser: they are dropped
-- (at most SSO_REQUEST_MINUTES old; their users start again), and so are used-up rows.
DELETE FROM "sso_requests";--> statement-breakpoint
ALTER TABLE "sso_requests" ADD COLUMN "binding_hash" text NOT NULL;
