//! Clusters: stories from different sources, under different links, that tell one event
//! (SPEC "Stories, not links"). Kept in the `data` tree beside the stories, so the per-source
//! cap and retention keep them consistent in the batch that forgets a story:
//!
//! - `M` + member key → the cluster's id (the key of the story that founded it);
//! - `K` + cluster id → [`Cluster`]: the founder's identity (whose republished guid the merged
//!   story keeps for ever, whichever copy speaks for it) and the members, in joining order.
//!
//! A story in no cluster has neither record. Which stories join is decided outside the store
//! (`pipeline::merge`); the store only keeps the answer.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{RecordError, Store, StoreError};
use crate::model::{Identity, SourceId, StoryKey};

/// A cluster of stories telling one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The cluster's id: the founding story's key.
    pub id: StoryKey,
    /// The founding story's identity: the merged story's republished guid is its.
    pub founder: Identity,
    /// Every member, the founder first while it is stored, in joining order.
    pub members: Vec<StoryKey>,
}

#[derive(Serialize, Deserialize)]
struct ClusterRecord {
    /// 0 link, 1 guid, 2 content.
    kind: u8,
    source: String,
    value: String,
    members: Vec<[u8; 16]>,
}

fn member_key(key: &StoryKey) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[0] = b'M';
    out[1..].copy_from_slice(&key.0);
    out
}

fn cluster_key(id: &StoryKey) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[0] = b'K';
    out[1..].copy_from_slice(&id.0);
    out
}

fn encode(cluster: &Cluster) -> Vec<u8> {
    let (kind, source, value) = match &cluster.founder {
        Identity::Link(link) => (0, String::new(), link.clone()),
        Identity::Guid { source, guid } => (1, source.to_string(), guid.clone()),
        Identity::Content { source, digest } => (2, source.to_string(), digest.clone()),
    };
    let record = ClusterRecord {
        kind,
        source,
        value,
        members: cluster.members.iter().map(|k| k.0).collect(),
    };
    postcard::to_stdvec(&record).expect("a cluster record always serializes")
}

fn decode(id: StoryKey, bytes: &[u8]) -> Result<Cluster, StoreError> {
    let bad = |why: String| StoreError::Record(RecordError::Decode(format!("cluster: {why}")));
    let record: ClusterRecord = postcard::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
    let source = || SourceId::new(&record.source).map_err(&bad);
    let founder = match record.kind {
        0 => Identity::Link(record.value),
        1 => Identity::Guid {
            source: source()?,
            guid: record.value,
        },
        2 => Identity::Content {
            source: source()?,
            digest: record.value,
        },
        other => return Err(bad(format!("unknown identity kind {other}"))),
    };
    Ok(Cluster {
        id,
        founder,
        members: record.members.into_iter().map(StoryKey).collect(),
    })
}

impl Store {
    /// The cluster `key` belongs to, if any.
    pub fn cluster_of(&self, key: &StoryKey) -> Result<Option<Cluster>, StoreError> {
        let data = self.data()?;
        let Some(id) = data.get(member_key(key))? else {
            return Ok(None);
        };
        let id = StoryKey(
            (*id)
                .try_into()
                .map_err(|_| RecordError::Decode("cluster membership: bad length".into()))?,
        );
        match data.get(cluster_key(&id))? {
            Some(bytes) => Ok(Some(decode(id, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Puts `member` in the cluster of `with` (founding one, with `with`'s identity, when
    /// `with` is in none). Both must be stored. Returns the cluster as it now is.
    pub fn join_cluster(
        &self,
        member: &StoryKey,
        with: &StoryKey,
        with_identity: &Identity,
    ) -> Result<Cluster, StoreError> {
        let _writer = self.writer_turn();
        let mut cluster = self.cluster_of(with)?.unwrap_or_else(|| Cluster {
            id: *with,
            founder: with_identity.clone(),
            members: vec![*with],
        });
        if !cluster.members.contains(member) {
            cluster.members.push(*member);
        }
        let mut batch = sled::Batch::default();
        for key in &cluster.members {
            batch.insert(&member_key(key), &cluster.id.0);
        }
        batch.insert(&cluster_key(&cluster.id), encode(&cluster));
        let generation = self.next_generation(&mut batch, true);
        self.apply(batch, generation).map_err(|e| self.noted(e))?;
        Ok(cluster)
    }

    /// Adds to `batch` what forgetting the stories `deleted` changes in their clusters: their
    /// memberships go and each cluster loses them; a cluster left empty, or with its founder
    /// alone, is dissolved. Called in the batch that deletes them.
    pub(super) fn leave_clusters(
        &self,
        deleted: &[StoryKey],
        batch: &mut sled::Batch,
    ) -> Result<(), StoreError> {
        let mut changed: HashMap<StoryKey, Cluster> = HashMap::new();
        for key in deleted {
            // The stored cluster: the batch has not changed the tree yet.
            let Some(stored) = self.cluster_of(key)? else {
                continue;
            };
            let cluster = changed.entry(stored.id).or_insert(stored);
            cluster.members.retain(|m| m != key);
            batch.remove(&member_key(key));
        }
        for cluster in changed.values() {
            match cluster.members.as_slice() {
                [] => batch.remove(&cluster_key(&cluster.id)),
                [alone] if *alone == cluster.id => {
                    batch.remove(&cluster_key(&cluster.id));
                    batch.remove(&member_key(alone));
                }
                // A member that outlived the founder keeps the founder's guid: it was published
                // under it.
                _ => batch.insert(&cluster_key(&cluster.id), encode(cluster)),
            }
        }
        Ok(())
    }
}
