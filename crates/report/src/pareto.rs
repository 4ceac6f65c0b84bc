//! What each grid point costs against what it gives: the primary metric against the trials'
//! parameters and their mean wall time, and which points are Pareto-optimal (no other point
//! is at least as good for no more parameters, or no more time, and better in one).

use plotters::prelude::*;

use crate::doc::{Block, Table};
use crate::error::ReportError;
use crate::plots::{color, log_tick, tick, SIZE};
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
/// metric), marking the points on each front, and a plot of each front
/// (`plots/pareto_{params,time}_<metric>.svg`, written by the caller from the `Figure` blocks);
/// empty with fewer than two such points.
pub fn blocks(summary: &Summary) -> Result<Vec<Block>, ReportError> {
    let Some(k) = summary.primary else { return Ok(Vec::new()) };
    let metric = &summary.metrics[k];
    let rows: Vec<_> = summary.rows.iter().filter(|r| r.stats[k].is_some()).collect();
    if rows.len() < 2 {
        return Ok(Vec::new());
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
    let mut blocks = vec![
        Block::Heading(3, format!("Cost against `{metric}`")),
        Block::Paragraph(format!(
            "Each grid point's trainable parameters and mean trial wall time beside its mean `{metric}`; ✓ marks \
             the Pareto front (no other point at least as good for no more parameters, or no more time): {what}."
        )),
        Block::Table(Table { header, rows: table_rows }),
    ];
    let mut figures = vec![("time", "mean trial wall time (s)", &by_time, &time_front)];
    if has_params {
        figures.insert(0, ("params", "trainable parameters", &by_params, &params_front));
    }
    let labels: Vec<String> = rows.iter().map(|r| r.point.join(", ")).collect();
    for (name, x_label, points, on_front) in figures {
        if let Some(svg) = front_svg(points, on_front, &labels, x_label, metric)? {
            let path = format!("plots/pareto_{name}_{metric}.svg");
            blocks.push(Block::Figure { path, svg, caption: format!("{metric} against {name}, Pareto front joined") });
        }
    }
    Ok(blocks)
}

/// Points labelled in the plot at most (beyond, only the front's are).
const MAX_LABELS: usize = 12;

/// Every point (cost, value) in grey, the front's in colour joined by a line, each labelled by
/// its grid point (all of them up to [`MAX_LABELS`], else the front's); the cost axis is
/// logarithmic when it spans more than a decade. `None` when fewer than two points have a
/// positive cost or the costs span no range.
fn front_svg(
    points: &[(f64, f64)],
    on_front: &[bool],
    labels: &[String],
    x_label: &str,
    metric: &str,
) -> Result<Option<String>, ReportError> {
    let shown: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].0.is_finite() && points[i].0 > 0.0 && points[i].1.is_finite())
        .collect();
    let range = |it: &mut dyn Iterator<Item = f64>| {
        it.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)))
    };
    let (c_lo, c_hi) = range(&mut shown.iter().map(|&i| points[i].0));
    let log = c_hi > 10.0 * c_lo;
    let to_x = |c: f64| if log { c.log10() } else { c };
    let (x_lo, x_hi) = (to_x(c_lo), to_x(c_hi));
    let (y_lo, y_hi) = range(&mut shown.iter().map(|&i| points[i].1));
    if shown.len() < 2 || x_lo.partial_cmp(&x_hi) != Some(std::cmp::Ordering::Less) {
        return Ok(None);
    }
    // Room on the right for the last point's label.
    let (px, py) = ((x_hi - x_lo) * 0.06, ((y_hi - y_lo) * 0.08).max(1e-9));
    let err = |e: String| ReportError::Plot { metric: format!("{metric} Pareto front"), message: e };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let e = |e: DrawingAreaErrorKind<std::io::Error>| err(e.to_string());
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{metric} against {x_label}"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_lo - px..x_hi + 3.0 * px, y_lo - py..y_hi + py)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(if log { format!("{x_label} (log scale)") } else { x_label.to_string() })
            .y_desc(metric)
            .light_line_style(RGBColor(235, 235, 235))
            .x_labels(6)
            .x_label_formatter(&|v| {
                if log {
                    log_tick(*v)
                } else if v.abs() >= 1e5 {
                    // Parameter counts: every digit, so that close ticks stay apart.
                    format!("{v:.0}")
                } else {
                    tick(*v)
                }
            })
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(e)?;
        let grey = RGBColor(150, 150, 150);
        let at = |i: usize| (to_x(points[i].0), points[i].1);
        chart.draw_series(shown.iter().map(|&i| Circle::new(at(i), 4, grey.mix(0.6).filled()))).map_err(e)?;
        let mut front: Vec<usize> = shown.iter().copied().filter(|&i| on_front[i]).collect();
        front.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
        let c = color(0);
        chart.draw_series(LineSeries::new(front.iter().map(|&i| at(i)), c.stroke_width(2))).map_err(e)?;
        chart.draw_series(front.iter().map(|&i| Circle::new(at(i), 5, c.filled()))).map_err(e)?;
        let named: Vec<usize> = if shown.len() <= MAX_LABELS { shown.clone() } else { front };
        let style = ("sans-serif", 12).into_font().color(&RGBColor(60, 60, 60));
        chart
            .draw_series(
                named
                    .iter()
                    .filter(|&&i| !labels[i].is_empty())
                    .map(|&i| EmptyElement::at(at(i)) + Text::new(labels[i].clone(), (7, -14), style.clone())),
            )
            .map_err(e)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(Some(svg))
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
