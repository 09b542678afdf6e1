//! Leases across machines: another machine's WPs are its own while its heartbeat moves. Judged
//! only on this machine's monotonic clock — when *we* last saw the heartbeat change — so clocks
//! that disagree (or jump) never make a live machine look dead.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use git2::Oid;

use crate::ids::FeatureSlug;

/// `refs/kitty/hosts/<feature>/<host>`: the heartbeat of `host` working on `feature`.
pub fn heartbeat_ref(feature: &FeatureSlug, host: &str) -> String {
    format!("refs/kitty/hosts/{feature}/{host}")
}

/// What this machine has seen of other machines' heartbeats.
#[derive(Debug, Clone)]
pub struct Leases {
    lease: Duration,
    /// Per host: the heartbeat last seen (`None`: none on the remote) and when it last changed.
    heard: HashMap<String, (Option<Oid>, Instant)>,
}

impl Leases {
    /// Leases of `lease` (no change seen for that long: the host is presumed gone).
    pub fn new(lease: Duration) -> Leases {
        Leases { lease, heard: HashMap::new() }
    }

    /// Records `host`'s heartbeat as seen `now`; a change (or a first sight) restarts its lease.
    pub fn observe(&mut self, host: &str, tip: Option<Oid>, now: Instant) {
        match self.heard.get_mut(host) {
            Some((seen, _)) if *seen == tip => {}
            Some(entry) => *entry = (tip, now),
            None => {
                self.heard.insert(host.to_string(), (tip, now));
            }
        }
    }

    /// How long `host`'s heartbeat has not changed here; a host never seen starts being watched
    /// now (so it gets a whole lease from our first look).
    pub fn silent_for(&mut self, host: &str, now: Instant) -> Duration {
        let (_, since) = self.heard.entry(host.to_string()).or_insert((None, now));
        now.saturating_duration_since(*since)
    }

    /// Whether `host` has been silent for a whole lease.
    pub fn expired(&mut self, host: &str, now: Instant) -> bool {
        self.silent_for(host, now) >= self.lease
    }

    /// After a time this machine could not see the remote: every host's silence starts again
    /// `now` (a heartbeat we could not fetch is no evidence that its host stopped).
    pub fn restart_all(&mut self, now: Instant) {
        for (_, since) in self.heard.values_mut() {
            *since = now;
        }
    }

    /// The lease length.
    pub fn lease(&self) -> Duration {
        self.lease
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_runs_from_the_last_change_seen_here() {
        let start = Instant::now();
        let mut leases = Leases::new(Duration::from_secs(10));
        let a = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
        let b = Oid::from_str("2222222222222222222222222222222222222222").unwrap();
        leases.observe("laptop", Some(a), start);
        assert!(!leases.expired("laptop", start + Duration::from_secs(9)));
        // The same heartbeat again does not renew it.
        leases.observe("laptop", Some(a), start + Duration::from_secs(9));
        assert!(leases.expired("laptop", start + Duration::from_secs(10)));
        // A new one does.
        leases.observe("laptop", Some(b), start + Duration::from_secs(11));
        assert!(!leases.expired("laptop", start + Duration::from_secs(20)));
        assert!(leases.expired("laptop", start + Duration::from_secs(21)));
    }

    #[test]
    fn time_we_could_not_look_does_not_count() {
        let start = Instant::now();
        let mut leases = Leases::new(Duration::from_secs(10));
        let a = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
        leases.observe("laptop", Some(a), start);
        // Back after 30 s away from the remote: the laptop gets a whole lease from now.
        leases.restart_all(start + Duration::from_secs(30));
        assert!(!leases.expired("laptop", start + Duration::from_secs(39)));
        assert!(leases.expired("laptop", start + Duration::from_secs(40)));
    }

    #[test]
    fn a_host_never_seen_gets_a_whole_lease_from_the_first_look() {
        let start = Instant::now();
        let mut leases = Leases::new(Duration::from_secs(10));
        assert!(!leases.expired("ci-runner", start));
        assert!(!leases.expired("ci-runner", start + Duration::from_secs(5)));
        assert!(leases.expired("ci-runner", start + Duration::from_secs(10)));
    }
}
