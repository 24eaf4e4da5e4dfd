-- The demo instruments' displayed sizes, deep enough that an ordinary order fills: the
-- simulator's default (1 to 100 lots a level) is a few dollars of BTC or ETH, so a market
-- order of a few thousand dollars walked the venue's five levels and was canceled part
-- filled, and closing a position left some of it open. Each level now shows about as much
-- as a liquid market's best level: 0.1 to 3 BTC, 1 to 50 ETH, 100 to 3,000 shares.
-- Only the seeded simulator feeds that were never given sizes are changed.
UPDATE `assets` SET `feed` = json_set(`feed`, '$.params.displayedLots', json('{"min":1000,"max":30000}')), `updated_at` = unixepoch('subsec') * 1000
  WHERE `id` = '276e2673-764b-4ab6-a611-caf665ca6340' AND json_extract(`feed`, '$.kind') = 'sim' AND json_extract(`feed`, '$.params.displayedLots') IS NULL;
--> statement-breakpoint
UPDATE `assets` SET `feed` = json_set(`feed`, '$.params.displayedLots', json('{"min":1000,"max":50000}')), `updated_at` = unixepoch('subsec') * 1000
  WHERE `id` = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d' AND json_extract(`feed`, '$.kind') = 'sim' AND json_extract(`feed`, '$.params.displayedLots') IS NULL;
--> statement-breakpoint
UPDATE `assets` SET `feed` = json_set(`feed`, '$.params.displayedLots', json('{"min":100,"max":3000}')), `updated_at` = unixepoch('subsec') * 1000
  WHERE `id` IN ('b0b6dd9d-8b9b-48a9-ba46-b9d54a423796', 'f4c2b8a1-3d6e-4f0a-9b7c-2e5d8a1f6c3b', '3a1e9c7b-5f2d-4b8e-a6c0-9d4f1e7b2a58', '8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b')
    AND json_extract(`feed`, '$.kind') = 'sim' AND json_extract(`feed`, '$.params.displayedLots') IS NULL;
