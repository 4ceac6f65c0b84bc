//! A `[search]`'s sampled keys: the primary metric of every ok seed against each key's value,
//! one colour per value of the compared axis (e.g. `model.cell`), on a log axis for
//! `log_uniform` keys. Where a table ranks the sampled points, these show which way each key
//! pulls.

use plotters::prelude::*;

use crate::error::ReportError;
use crate::plots::{color, log_tick, tick, SIZE};
use crate::summary::Summary;

/// One key of `[search.space]` as the folder's spec.toml gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchKey {
    pub name: String,
    /// Sampled log-uniformly: drawn on a log axis.
    pub log: bool,
}

/// The keys of `spec`'s `[search.space]` (none without a search).
pub fn search_keys(spec: &toml::Table) -> Vec<SearchKey> {
    let space = spec.get("search").and_then(|s| s.get("space")).and_then(toml::Value::as_table);
    space
        .into_iter()
        .flat_map(|t| t.iter())
        .map(|(k, v)| SearchKey { name: k.clone(), log: v.get("log_uniform").is_some() })
        .collect()
}

/// `(x, metric)` of every ok seed, grouped by the value of `group_by` (one group without it).
fn points(summary: &Summary, key: &str, metric: &str, group_by: Option<&str>) -> Vec<(String, Vec<(f64, f64)>)> {
    let (Some(kx), Some(km)) =
        (summary.grid.iter().position(|g| g == key), summary.metrics.iter().position(|m| m == metric))
    else {
        return Vec::new();
    };
    let kg = group_by.and_then(|g| summary.grid.iter().position(|c| c == g));
    let mut groups: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for row in &summary.rows {
        let (Ok(x), Some(stat)) = (row.point[kx].parse::<f64>(), row.stats[km].as_ref()) else { continue };
        let name = kg.map_or_else(String::new, |g| row.point[g].clone());
        let at = match groups.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                groups.push((name, Vec::new()));
                groups.len() - 1
            }
        };
        groups[at].1.extend(stat.values.iter().filter(|v| v.is_finite()).map(|&v| (x, v)));
    }
    groups.retain(|(_, p)| !p.is_empty());
    groups
}

/// The scatter SVG of `metric` against `key`; `None` when the key is not numeric or spans no range.
pub fn scatter_svg(
    summary: &Summary,
    key: &SearchKey,
    metric: &str,
    group_by: Option<&str>,
) -> Result<Option<String>, ReportError> {
    let groups = points(summary, &key.name, metric, group_by);
    let all = || groups.iter().flat_map(|(_, p)| p.iter().copied());
    let to_x = |x: f64| if key.log { x.log10() } else { x };
    if key.log && all().any(|(x, _)| x <= 0.0) {
        return Ok(None);
    }
    let range =
        |v: &mut dyn Iterator<Item = f64>| v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (x_lo, x_hi) = range(&mut all().map(|(x, _)| to_x(x)));
    let (y_lo, y_hi) = range(&mut all().map(|(_, y)| y));
    if x_lo.partial_cmp(&x_hi) != Some(std::cmp::Ordering::Less) || !(y_lo.is_finite() && y_hi.is_finite()) {
        return Ok(None);
    }
    let (px, py) = ((x_hi - x_lo) * 0.04, ((y_hi - y_lo) * 0.06).max(1e-9));
    let err = |e: String| ReportError::Plot { metric: format!("{metric} against {}", key.name), message: e };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let e = |e: DrawingAreaErrorKind<std::io::Error>| err(e.to_string());
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{metric} against {}", key.name), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_lo - px..x_hi + px, y_lo - py..y_hi + py)
            .map_err(e)?;
        let log = key.log;
        chart
            .configure_mesh()
            .x_desc(if log { format!("{} (log scale)", key.name) } else { key.name.clone() })
            .y_desc(metric)
            .light_line_style(RGBColor(235, 235, 235))
            .x_label_formatter(&|v| if log { log_tick(*v) } else { tick(*v) })
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(e)?;
        for (i, (name, pts)) in groups.iter().enumerate() {
            let c = color(i);
            let series = chart
                .draw_series(pts.iter().map(|&(x, y)| Circle::new((to_x(x), y), 4, c.mix(0.8).filled())))
                .map_err(e)?;
            if !name.is_empty() {
                series.label(name.as_str()).legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
            }
        }
        if groups.iter().any(|(n, _)| !n.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(e)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(Some(svg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{Row, Stat};

    fn row(cell: &str, lr: &str, values: &[f64]) -> Row {
        let stat = Stat { n: values.len(), mean: 0.0, std: 0.0, min: 0.0, max: 0.0, values: values.to_vec() };
        Row {
            point: vec![cell.into(), lr.into()],
            trials: values.len(),
            ok: values.len(),
            diverged: 0,
            failed: 0,
            pruned: 0,
            stats: vec![Some(stat)],
            successes: None,
            params: None,
            mean_wall_seconds: 1.0,
            eval_seconds: None,
        }
    }

    #[test]
    fn every_seed_is_a_point_grouped_by_the_compared_axis_and_text_keys_draw_nothing() {
        let spec: toml::Table = "[search.space]\n'optimizer.lr' = { log_uniform = [1e-4, 1e-1] }\n\
                                 'model.cell' = { choice = ['lstm', 'gru'] }"
            .parse()
            .unwrap();
        let keys = search_keys(&spec);
        assert_eq!(
            keys.iter().map(|k| (k.name.as_str(), k.log)).collect::<Vec<_>>(),
            [("model.cell", false), ("optimizer.lr", true)]
        );
        let summary = Summary {
            grid: vec!["model.cell".into(), "optimizer.lr".into()],
            metrics: vec!["valid_loss".into()],
            success: None,
            rows: vec![row("lstm", "0.001", &[1.0, 2.0]), row("gru", "0.01", &[0.5]), row("lstm", "0.1", &[3.0])],
            primary: Some(0),
            rank: Some(0),
            selected: 0,
            pruning: None,
        };
        let groups = points(&summary, "optimizer.lr", "valid_loss", Some("model.cell"));
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0], ("lstm".to_string(), vec![(0.001, 1.0), (0.001, 2.0), (0.1, 3.0)]));
        let svg = scatter_svg(&summary, &keys[1], "valid_loss", Some("model.cell")).unwrap().unwrap();
        assert_eq!(svg.matches("<circle").count(), 4 + 2, "4 seeds and 2 legend marks");
        // A key that is not a number (the cell) draws nothing.
        assert_eq!(scatter_svg(&summary, &keys[0], "valid_loss", None).unwrap(), None);
    }
}
