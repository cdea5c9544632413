//! The graph questions that are computation rather than lookup: centrality,
//! communities and the choice among equally short paths. Pure and
//! deterministic (nodes are visited in id order), so every graph store
//! gives the same answer for the same network: Neo4j Community has no
//! graph algorithms library, and a document's network is small enough
//! (hundreds of characters) to compute on in memory.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use uuid::Uuid;

use super::{Centrality, Communities, Community, GraphCharacter, Network};

const DAMPING: f64 = 0.85;
const PAGERANK_TOLERANCE: f64 = 1e-12;
const PAGERANK_ROUNDS: usize = 200;
const PROPAGATION_ROUNDS: usize = 100;

/// Undirected weighted adjacency, in id order.
fn adjacency(network: &Network) -> BTreeMap<Uuid, BTreeMap<Uuid, u64>> {
    let mut adjacent: BTreeMap<Uuid, BTreeMap<Uuid, u64>> = network
        .nodes
        .iter()
        .map(|n| (n.character_id, BTreeMap::new()))
        .collect();
    for edge in &network.edges {
        if edge.a == edge.b || !adjacent.contains_key(&edge.a) || !adjacent.contains_key(&edge.b) {
            continue;
        }
        for (x, y) in [(edge.a, edge.b), (edge.b, edge.a)] {
            if let Some(row) = adjacent.get_mut(&x) {
                *row.entry(y).or_default() += edge.weight;
            }
        }
    }
    adjacent
}

/// Degree, weighted degree and (weighted) PageRank of every node, highest
/// PageRank first.
pub fn centrality(network: &Network) -> Vec<Centrality> {
    let adjacent = adjacency(network);
    let ranks = pagerank(&adjacent);
    let mut central: Vec<Centrality> = network
        .nodes
        .iter()
        .map(|node| {
            let row = adjacent.get(&node.character_id);
            Centrality {
                character_id: node.character_id,
                name: node.name.clone(),
                degree: row.map_or(0, |r| r.len() as u64),
                weighted_degree: row.map_or(0, |r| r.values().sum()),
                pagerank: ranks.get(&node.character_id).copied().unwrap_or(0.0),
            }
        })
        .collect();
    central.sort_by(|x, y| {
        y.pagerank
            .total_cmp(&x.pagerank)
            .then(y.weighted_degree.cmp(&x.weighted_degree))
            .then(x.character_id.cmp(&y.character_id))
    });
    central
}

fn pagerank(adjacent: &BTreeMap<Uuid, BTreeMap<Uuid, u64>>) -> BTreeMap<Uuid, f64> {
    let n = adjacent.len();
    if n == 0 {
        return BTreeMap::new();
    }
    let uniform = 1.0 / n as f64;
    let strength: BTreeMap<Uuid, f64> = adjacent
        .iter()
        .map(|(id, row)| (*id, row.values().map(|w| *w as f64).sum()))
        .collect();
    let mut rank: BTreeMap<Uuid, f64> = adjacent.keys().map(|id| (*id, uniform)).collect();
    for _ in 0..PAGERANK_ROUNDS {
        // Nodes without edges hand their rank to everyone.
        let dangling: f64 = rank
            .iter()
            .filter(|(id, _)| strength.get(*id).copied().unwrap_or(0.0) == 0.0)
            .map(|(_, r)| r)
            .sum();
        let base = (1.0 - DAMPING) * uniform + DAMPING * dangling * uniform;
        let mut next: BTreeMap<Uuid, f64> = adjacent.keys().map(|id| (*id, base)).collect();
        for (id, row) in adjacent {
            let total = strength.get(id).copied().unwrap_or(0.0);
            if total == 0.0 {
                continue;
            }
            let share = DAMPING * rank.get(id).copied().unwrap_or(0.0) / total;
            for (other, weight) in row {
                if let Some(r) = next.get_mut(other) {
                    *r += share * *weight as f64;
                }
            }
        }
        let change: f64 = next
            .iter()
            .map(|(id, r)| (r - rank.get(id).copied().unwrap_or(0.0)).abs())
            .sum();
        rank = next;
        if change < PAGERANK_TOLERANCE {
            break;
        }
    }
    rank
}

/// Communities by weighted label propagation: each node in turn (id
/// order) takes the label its neighbours carry the most weight of (ties:
/// its own if among the best, else the smallest), until nothing changes.
/// Largest community first; the modularity says how well they separate.
pub fn communities(network: &Network) -> Communities {
    let adjacent = adjacency(network);
    let mut label: BTreeMap<Uuid, Uuid> = adjacent.keys().map(|id| (*id, *id)).collect();
    for _ in 0..PROPAGATION_ROUNDS {
        let mut changed = false;
        for (id, row) in &adjacent {
            let mut weight_of: BTreeMap<Uuid, u64> = BTreeMap::new();
            for (other, weight) in row {
                if let Some(l) = label.get(other) {
                    *weight_of.entry(*l).or_default() += weight;
                }
            }
            let Some(best) = weight_of.values().max().copied() else {
                continue;
            };
            let current = label.get(id).copied().unwrap_or(*id);
            if weight_of.get(&current) == Some(&best) {
                continue;
            }
            let chosen = weight_of
                .iter()
                .find(|(_, w)| **w == best)
                .map(|(l, _)| *l)
                .unwrap_or(current);
            label.insert(*id, chosen);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    let names: BTreeMap<Uuid, &str> = network
        .nodes
        .iter()
        .map(|n| (n.character_id, n.name.as_str()))
        .collect();
    let mut groups: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    for (id, l) in &label {
        groups.entry(*l).or_default().insert(*id);
    }
    let mut communities: Vec<Community> = groups
        .into_values()
        .map(|members| Community {
            members: members
                .into_iter()
                .map(|id| GraphCharacter {
                    character_id: id,
                    name: names.get(&id).copied().unwrap_or_default().to_owned(),
                })
                .collect(),
        })
        .collect();
    communities.sort_by(|x, y| {
        y.members.len().cmp(&x.members.len()).then_with(|| {
            x.members
                .first()
                .map(|m| m.character_id)
                .cmp(&y.members.first().map(|m| m.character_id))
        })
    });
    Communities {
        modularity: modularity(&adjacent, &label),
        communities,
    }
}

fn modularity(adjacent: &BTreeMap<Uuid, BTreeMap<Uuid, u64>>, label: &BTreeMap<Uuid, Uuid>) -> f64 {
    let two_m: f64 = adjacent
        .values()
        .flat_map(|row| row.values())
        .map(|w| *w as f64)
        .sum();
    if two_m == 0.0 {
        return 0.0;
    }
    let mut inside: BTreeMap<Uuid, f64> = BTreeMap::new();
    let mut degree: BTreeMap<Uuid, f64> = BTreeMap::new();
    for (id, row) in adjacent {
        let Some(l) = label.get(id) else { continue };
        *degree.entry(*l).or_default() += row.values().map(|w| *w as f64).sum::<f64>();
        for (other, weight) in row {
            if label.get(other) == Some(l) {
                *inside.entry(*l).or_default() += *weight as f64;
            }
        }
    }
    degree
        .iter()
        .map(|(l, d)| inside.get(l).copied().unwrap_or(0.0) / two_m - (d / two_m).powi(2))
        .sum()
}

/// The shortest path from `from` to `to` of at most `max_hops` edges over
/// the undirected `adjacent`; among equally short ones, the first in the
/// order of their id sequences.
pub fn shortest_path(
    adjacent: &BTreeMap<Uuid, BTreeSet<Uuid>>,
    from: Uuid,
    to: Uuid,
    max_hops: usize,
) -> Option<Vec<Uuid>> {
    if from == to {
        return Some(vec![from]);
    }
    // Distances to `to`, then a walk from `from` that always steps to the
    // smallest id one step closer.
    let mut distance: BTreeMap<Uuid, usize> = BTreeMap::from([(to, 0)]);
    let mut queue = VecDeque::from([to]);
    while let Some(node) = queue.pop_front() {
        let d = distance.get(&node).copied().unwrap_or(0);
        if d >= max_hops || distance.contains_key(&from) {
            continue;
        }
        for next in adjacent.get(&node).into_iter().flatten() {
            if !distance.contains_key(next) {
                distance.insert(*next, d + 1);
                queue.push_back(*next);
            }
        }
    }
    let mut hops = *distance.get(&from)?;
    let mut path = vec![from];
    let mut at = from;
    while hops > 0 {
        at = *adjacent
            .get(&at)?
            .iter()
            .find(|n| distance.get(*n) == Some(&(hops - 1)))?;
        path.push(at);
        hops -= 1;
    }
    Some(path)
}

/// The first of equally short paths, in the order [`shortest_path`] uses.
pub fn first_of(paths: impl IntoIterator<Item = Vec<Uuid>>) -> Option<Vec<Uuid>> {
    paths
        .into_iter()
        .min_by(|x, y| x.len().cmp(&y.len()).then_with(|| x.cmp(y)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{NetworkEdge, NetworkNode};

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn network(edges: &[(u128, u128, u64)], nodes: u128) -> Network {
        Network {
            document_id: id(0),
            nodes: (1..=nodes)
                .map(|n| NetworkNode {
                    character_id: id(n),
                    name: format!("c{n}"),
                    mentions: 1,
                })
                .collect(),
            edges: edges
                .iter()
                .map(|(a, b, w)| NetworkEdge {
                    a: id(*a),
                    b: id(*b),
                    weight: *w,
                })
                .collect(),
        }
    }

    #[test]
    fn the_hub_of_a_star_is_the_most_central() {
        let star = network(&[(1, 2, 1), (1, 3, 1), (1, 4, 1), (1, 5, 5)], 6);
        let central = centrality(&star);
        assert_eq!(central[0].character_id, id(1));
        assert_eq!(central[0].degree, 4);
        assert_eq!(central[0].weighted_degree, 8);
        // The heavier spoke outranks the light ones; the lone node is last.
        assert_eq!(central[1].character_id, id(5));
        assert_eq!(central[5].character_id, id(6));
        assert_eq!(central[5].degree, 0);
        let total: f64 = central.iter().map(|c| c.pagerank).sum();
        assert!((total - 1.0).abs() < 1e-9, "ranks sum to one: {total}");
    }

    #[test]
    fn two_cliques_joined_by_one_light_edge_are_two_communities() {
        let edges = [
            (1, 2, 5),
            (1, 3, 5),
            (2, 3, 5),
            (4, 5, 5),
            (4, 6, 5),
            (5, 6, 5),
            (3, 4, 1),
        ];
        let found = communities(&network(&edges, 6));
        let sets: Vec<Vec<Uuid>> = found
            .communities
            .iter()
            .map(|c| c.members.iter().map(|m| m.character_id).collect())
            .collect();
        assert_eq!(
            sets,
            vec![vec![id(1), id(2), id(3)], vec![id(4), id(5), id(6)]]
        );
        assert!(found.modularity > 0.4, "{}", found.modularity);
    }

    #[test]
    fn the_shortest_path_is_bounded_and_the_smallest_of_its_length() {
        let mut adjacent: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
        for (a, b) in [(1, 3), (3, 5), (1, 2), (2, 5), (5, 6)] {
            adjacent.entry(id(a)).or_default().insert(id(b));
            adjacent.entry(id(b)).or_default().insert(id(a));
        }
        assert_eq!(
            shortest_path(&adjacent, id(1), id(6), 3),
            Some(vec![id(1), id(2), id(5), id(6)])
        );
        assert_eq!(shortest_path(&adjacent, id(1), id(6), 2), None);
        assert_eq!(shortest_path(&adjacent, id(1), id(9), 5), None);
        assert_eq!(
            first_of(vec![
                vec![id(1), id(3), id(5), id(6)],
                vec![id(1), id(2), id(5), id(6)],
            ]),
            Some(vec![id(1), id(2), id(5), id(6)])
        );
    }
}
