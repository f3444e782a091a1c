ALTER TABLE "identity_providers" DROP COLUMN "jackson_tenant";--> statement-breakpoint
ALTER TABLE "identity_providers" DROP COLUMN "jackson_product";