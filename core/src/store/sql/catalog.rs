//! The SQL of [`CatalogStore`]: refreshed lifecycle rows, and matches
//! stored again with the per-machine tables rebuilt from them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Db, This};
use crate::catalog::CycleInfo;
use crate::domain::{CycleRef, OsInfo};
use crate::store::{CatalogStore, Result, StoreError, TitleRow, to_micros};

impl This {
    async fn rebuild_derived(tx: &mut sqlx::Transaction<'_, Db>) -> Result<()> {
        sqlx::query("DELETE FROM machine_software")
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO machine_software (product, cycle, machine_id, last_used) \
             SELECT t.product, t.cycle, i.machine_id, MAX(i.last_used) FROM installations i \
             JOIN software_titles t ON t.id = i.title_id \
             WHERE t.product IS NOT NULL AND t.cycle IS NOT NULL \
             GROUP BY t.product, t.cycle, i.machine_id",
        )
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM machine_applications")
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO machine_applications (application, machine_id, last_used) \
             SELECT t.application, i.machine_id, MAX(i.last_used) FROM installations i \
             JOIN software_titles t ON t.id = i.title_id WHERE t.application IS NOT NULL \
             GROUP BY t.application, i.machine_id",
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl CatalogStore for This {
    async fn refreshed_catalog(&self) -> Result<Vec<CycleInfo>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT data FROM catalog_refresh ORDER BY product, cycle")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(d,)| serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    async fn save_refreshed_catalog(&self, rows: &[CycleInfo], now: DateTime<Utc>) -> Result<()> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        for r in rows {
            let data = serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO catalog_refresh (product, cycle, data, fetched_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (product, cycle) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at",
            )
            .bind(&r.product)
            .bind(&r.cycle)
            .bind(data)
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_title_matches(&self, titles: &[TitleRow]) -> Result<()> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        for t in titles {
            sqlx::query("UPDATE software_titles SET product = $2, cycle = $3, application = $4 WHERE id = $1")
                .bind(t.id)
                .bind(t.cycle.as_ref().map(|c| c.product.clone()))
                .bind(t.cycle.as_ref().map(|c| c.cycle.clone()))
                .bind(&t.application)
                .execute(&mut *tx)
                .await?;
        }
        // Every process that keeps titles drops them (see `titles.rs`).
        sqlx::query("UPDATE title_revision SET revision = revision + 1")
            .execute(&mut *tx)
            .await?;
        Self::rebuild_derived(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn machine_os(&self) -> Result<Vec<(i64, OsInfo)>> {
        let rows = sqlx::query(
            "SELECT id, os_caption, os_version, os_display_version, os_edition, os_product_type, \
             os_architecture FROM machines",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, Self::os_info(r)?)))
            .collect()
    }

    async fn update_os_matches(&self, matches: &[(i64, Option<CycleRef>)]) -> Result<()> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        for (id, m) in matches {
            sqlx::query("UPDATE machines SET os_product = $2, os_cycle = $3 WHERE id = $1")
                .bind(*id)
                .bind(m.as_ref().map(|c| c.product.clone()))
                .bind(m.as_ref().map(|c| c.cycle.clone()))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
