ALTER TABLE "directories" ADD COLUMN "patch_answer" text DEFAULT 'resource' NOT NULL;--> statement-breakpoint
ALTER TABLE "directories" ADD CONSTRAINT "directories_patch_answer_check" CHECK ("directories"."patch_answer" in ('resource', 'no_content'));--> statement-breakpoint
-- Directories made before this answered 204 (Entra's expectation) unless the client was Okta or
-- asked for attributes: they keep that; new ones answer with the resource by default.
UPDATE "directories" SET "patch_answer" = 'no_content';
