//! What each grid point costs against what it gives: the primary metric against the trials'
//! parameters and their mean wall time, and which points are Pareto-optimal (no other point
//! is at least as good for no more parameters, or no more time, and better in one).

use crate::doc::{Block, Table};
use crate::summary::{mean_std, Summary};

/// For each of `points` (cost, value), whether no other point has cost ≤ and value at least as
/// good, with one of the two strictly better (`higher`: larger values are better).
pub fn front(points: &[(f64, f64)], higher: bool) -> Vec<bool> {
    let better = |a: f64, b: f64| if higher { a > b } else { a < b };
    let at_least = |a: f64, b: f64| a == b || better(a, b);
    points
        .iter()
        .map(|&(c, v)| {
            v.is_finite()
                && !points
                    .iter()
                    .any(|&(c2, v2)| v2.is_finite() && c2 <= c && at_least(v2, v) && (c2 < c || better(v2, v)))
        })
        .collect()
}

/// The section: one row per grid point with results (parameters, mean wall time, the primary
/// metric), marking the points on each front; empty with fewer than two such points.
pub fn blocks(summary: &Summary) -> Vec<Block> {
    let Some(k) = summary.primary else { return Vec::new() };
    let metric = &summary.metrics[k];
    let rows: Vec<_> = summary.rows.iter().filter(|r| r.stats[k].is_some()).collect();
    if rows.len() < 2 {
        return Vec::new();
    }
    let higher = rnnlab_spec::vocab::higher_is_better(metric);
    let value = |r: &crate::summary::Row| r.stats[k].as_ref().map_or(f64::NAN, |s| s.mean);
    let by_params: Vec<(f64, f64)> = rows.iter().map(|r| (r.params.unwrap_or(f64::NAN), value(r))).collect();
    let by_time: Vec<(f64, f64)> = rows.iter().map(|r| (r.mean_wall_seconds, value(r))).collect();
    let has_params = by_params.iter().all(|(p, _)| p.is_finite());
    let params_front = front(&by_params, higher);
    let time_front = front(&by_time, higher);
    let mut header: Vec<String> = summary.grid.clone();
    if has_params {
        header.extend(["params".into(), "front (params)".into()]);
    }
    header.extend(["wall s".into(), "front (time)".into(), metric.clone()]);
    let mark = |on: bool| if on { "✓".to_string() } else { String::new() };
    let table_rows = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = r.point.clone();
            if has_params {
                row.extend([format!("{:.0}", by_params[i].0), mark(params_front[i])]);
            }
            row.extend([format!("{:.1}", r.mean_wall_seconds), mark(time_front[i]), mean_std(r.stats[k].as_ref())]);
            row
        })
        .collect();
    let on = |f: &[bool]| f.iter().filter(|&&x| x).count();
    let what = if has_params {
        format!("{} on the parameters front, {} on the time front", on(&params_front), on(&time_front))
    } else {
        format!("{} on the time front (this folder records no parameter counts)", on(&time_front))
    };
    vec![
        Block::Heading(3, format!("Cost against `{metric}`")),
        Block::Paragraph(format!(
            "Each grid point's trainable parameters and mean trial wall time beside its mean `{metric}`; ✓ marks \
             the Pareto front (no other point at least as good for no more parameters, or no more time): {what}."
        )),
        Block::Table(Table { header, rows: table_rows }),
    ]
}

#[cfg(test)]
mod tests {
    use super::front;

    #[test]
    fn the_front_keeps_what_nothing_cheaper_beats() {
        // (cost, accuracy): the second is dominated by the first (cheaper and better).
        let p = [(1.0, 0.9), (2.0, 0.8), (3.0, 0.95), (3.0, 0.95), (0.5, f64::NAN)];
        assert_eq!(front(&p, true), [true, false, true, true, false]);
        // Lower is better: the cheapest point with the lowest loss dominates the rest.
        assert_eq!(front(&[(1.0, 0.1), (2.0, 0.2), (3.0, 0.05)], false), [true, false, true]);
    }
}
