//! The dependency graph of a feature's work packages: stable topological order, dependents,
//! readiness, and cycle detection for validation.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::ids::WpId;

/// Work packages and their dependencies, indexed for scheduling queries.
///
/// Built from a validated feature (every dependency is a known WP); nodes are kept sorted by id so
/// that every answer is deterministic.
#[derive(Debug, Clone)]
pub struct Graph {
    ids: Vec<WpId>,
    index: BTreeMap<WpId, usize>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds the graph from `(id, dependencies)` pairs. Dependencies on ids that are not nodes
    /// are ignored here (validation reports them).
    pub fn new<'a, I>(nodes: I) -> Graph
    where
        I: IntoIterator<Item = (&'a WpId, &'a [WpId])>,
    {
        let mut pairs: Vec<(&WpId, &[WpId])> = nodes.into_iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        pairs.dedup_by(|a, b| a.0 == b.0);
        let ids: Vec<WpId> = pairs.iter().map(|(id, _)| (*id).clone()).collect();
        let index: BTreeMap<WpId, usize> = ids.iter().cloned().enumerate().map(|(i, id)| (id, i)).collect();
        let mut deps = vec![Vec::new(); ids.len()];
        let mut dependents = vec![Vec::new(); ids.len()];
        for (i, (_, wp_deps)) in pairs.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for dep in wp_deps.iter() {
                if let Some(&d) = index.get(dep)
                    && seen.insert(d)
                {
                    deps[i].push(d);
                    dependents[d].push(i);
                }
            }
        }
        Graph { ids, index, deps, dependents }
    }

    /// All ids, sorted.
    pub fn ids(&self) -> &[WpId] {
        &self.ids
    }

    /// Kahn's algorithm, always taking the smallest ready id first: the same feature gives the
    /// same order on every machine. WPs on a cycle are left out (validation rejects cycles).
    pub fn topological_order(&self) -> Vec<WpId> {
        let mut missing: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut ready: BTreeSet<usize> = (0..self.ids.len()).filter(|&i| missing[i] == 0).collect();
        let mut order = Vec::with_capacity(self.ids.len());
        while let Some(i) = ready.pop_first() {
            order.push(self.ids[i].clone());
            for &j in &self.dependents[i] {
                missing[j] -= 1;
                if missing[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        order
    }

    /// Direct dependencies of `id` (sorted), or empty for an unknown id.
    pub fn dependencies(&self, id: &WpId) -> Vec<WpId> {
        self.index.get(id).map(|&i| self.deps[i].iter().map(|&d| self.ids[d].clone()).collect()).unwrap_or_default()
    }

    /// WPs that depend directly on `id` (sorted).
    pub fn dependents(&self, id: &WpId) -> Vec<WpId> {
        let mut out: Vec<WpId> = self
            .index
            .get(id)
            .map(|&i| self.dependents[i].iter().map(|&d| self.ids[d].clone()).collect())
            .unwrap_or_default();
        out.sort();
        out
    }

    /// WPs not in `done` whose dependencies are all in `done`, sorted: what may start now.
    pub fn ready(&self, done: &HashSet<WpId>) -> Vec<WpId> {
        (0..self.ids.len())
            .filter(|&i| !done.contains(&self.ids[i]))
            .filter(|&i| self.deps[i].iter().all(|&d| done.contains(&self.ids[d])))
            .map(|i| self.ids[i].clone())
            .collect()
    }

    /// Every dependency cycle, each as a path that starts and ends at its smallest id
    /// (`[WP02, WP05, WP02]`). One cycle is reported per strongly connected component.
    pub fn cycles(&self) -> Vec<Vec<WpId>> {
        let mut cycles = Vec::new();
        for component in self.strongly_connected_components() {
            let members: BTreeSet<usize> = component.iter().copied().collect();
            let start = *members.first().expect("components are never empty");
            let self_loop = self.deps[start].contains(&start);
            if members.len() == 1 && !self_loop {
                continue;
            }
            let path = self.path_within(&members, start);
            cycles.push(path.into_iter().map(|i| self.ids[i].clone()).collect());
        }
        cycles.sort();
        cycles
    }

    /// Shortest path from `start` back to `start` following dependency edges inside `members`
    /// (breadth-first, smallest ids first): the cycle a person can read.
    fn path_within(&self, members: &BTreeSet<usize>, start: usize) -> Vec<usize> {
        let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            let mut next: Vec<usize> = self.deps[node].iter().copied().filter(|d| members.contains(d)).collect();
            next.sort();
            for d in next {
                if d == start {
                    // Walk back from `node` to `start`, then read it forwards and close the loop.
                    let mut path = vec![node];
                    while let Some(&p) = parent.get(path.last().expect("non-empty")) {
                        path.push(p);
                    }
                    path.reverse();
                    path.push(start);
                    return path;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(d) {
                    e.insert(node);
                    queue.push_back(d);
                }
            }
        }
        vec![start, start]
    }

    /// Tarjan's algorithm, iterative (deep chains must not overflow the stack).
    fn strongly_connected_components(&self) -> Vec<Vec<usize>> {
        let n = self.ids.len();
        let mut index_of = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut components = Vec::new();
        let mut next_index = 0;
        for root in 0..n {
            if index_of[root] != usize::MAX {
                continue;
            }
            let mut work: Vec<(usize, usize)> = vec![(root, 0)];
            while let Some(&mut (node, ref mut edge)) = work.last_mut() {
                if *edge == 0 && index_of[node] == usize::MAX {
                    index_of[node] = next_index;
                    low[node] = next_index;
                    next_index += 1;
                    stack.push(node);
                    on_stack[node] = true;
                }
                if let Some(&dep) = self.deps[node].get(*edge) {
                    *edge += 1;
                    if index_of[dep] == usize::MAX {
                        work.push((dep, 0));
                    } else if on_stack[dep] {
                        low[node] = low[node].min(index_of[dep]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == index_of[node] {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    components.push(component);
                }
            }
        }
        components
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> WpId {
        WpId::parse(s).unwrap()
    }

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        let owned: Vec<(WpId, Vec<WpId>)> =
            edges.iter().map(|(n, ds)| (id(n), ds.iter().map(|d| id(d)).collect())).collect();
        Graph::new(owned.iter().map(|(n, ds)| (n, ds.as_slice())))
    }

    fn names(ids: &[WpId]) -> Vec<&str> {
        ids.iter().map(WpId::as_str).collect()
    }

    #[test]
    fn topological_order_breaks_ties_by_id() {
        let g = graph(&[
            ("WP04", &["WP02", "WP03"]),
            ("WP03", &["WP01"]),
            ("WP02", &["WP01"]),
            ("WP01", &[]),
            ("WP05", &[]),
        ]);
        assert_eq!(names(&g.topological_order()), ["WP01", "WP02", "WP03", "WP04", "WP05"]);
        assert_eq!(names(&g.dependents(&id("WP01"))), ["WP02", "WP03"]);
    }

    #[test]
    fn ready_given_done_set() {
        let g = graph(&[("WP01", &[]), ("WP02", &["WP01"]), ("WP03", &["WP01", "WP02"])]);
        let done: HashSet<WpId> = [id("WP01")].into_iter().collect();
        assert_eq!(names(&g.ready(&done)), ["WP02"]);
        assert_eq!(names(&g.ready(&HashSet::new())), ["WP01"]);
    }

    #[test]
    fn cycles_are_reported_as_readable_paths() {
        let g = graph(&[("WP01", &[]), ("WP02", &["WP05"]), ("WP05", &["WP02"]), ("WP03", &["WP03"])]);
        let cycles = g.cycles();
        let printed: Vec<Vec<&str>> = cycles.iter().map(|c| names(c)).collect();
        assert_eq!(printed, vec![vec!["WP02", "WP05", "WP02"], vec!["WP03", "WP03"]]);
    }

    #[test]
    fn longer_cycle_follows_dependency_edges() {
        // WP01 -> WP02 -> WP03 -> WP01 ("depends on")
        let g = graph(&[("WP01", &["WP02"]), ("WP02", &["WP03"]), ("WP03", &["WP01"])]);
        let cycle = g.cycles().pop().unwrap();
        assert_eq!(names(&cycle), ["WP01", "WP02", "WP03", "WP01"]);
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let owned: Vec<(WpId, Vec<WpId>)> = (1..=9999)
            .map(|i| (id(&format!("WP{i:04}")), if i > 1 { vec![id(&format!("WP{:04}", i - 1))] } else { vec![] }))
            .collect();
        let g = Graph::new(owned.iter().map(|(n, ds)| (n, ds.as_slice())));
        assert!(g.cycles().is_empty());
        assert_eq!(g.topological_order().len(), 9999);
    }
}
