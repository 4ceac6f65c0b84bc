//! The performance profile of a metric (rliable's "score distribution"): for every threshold τ,
//! the fraction of a grid point's ok seeds whose final value beats τ, one step line per grid
//! point. Where a mean hides that some seeds solve a task and others stall, the profile shows it.

use plotters::prelude::*;

use crate::error::ReportError;
use crate::plots::{color, SIZE};
use crate::summary::Summary;

/// The fraction of `values` that beat `tau`: above it when higher is better, at or below it
/// otherwise.
pub fn fraction_beating(values: &[f64], tau: f64, higher_is_better: bool) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let hits = values.iter().filter(|&&v| if higher_is_better { v > tau } else { v <= tau }).count();
    hits as f64 / values.len() as f64
}

/// The profile SVG of `metric`; `None` when it has no values or a single distinct value.
pub fn profile_svg(summary: &Summary, metric: &str) -> Result<Option<String>, ReportError> {
    let Some(k) = summary.metrics.iter().position(|m| m == metric) else { return Ok(None) };
    let higher = rnnlab_spec::vocab::higher_is_better(metric);
    let lines: Vec<(String, &[f64])> = summary
        .rows
        .iter()
        .filter_map(|r| r.stats[k].as_ref().filter(|s| !s.values.is_empty()).map(|s| (summary.label(r), &s.values[..])))
        .collect();
    let all = lines.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
        return Ok(None);
    }
    let pad = (hi - lo) * 0.02;
    let (x_lo, x_hi) = (lo - pad, hi + pad);
    let err = |e: String| ReportError::Plot { metric: format!("{metric} profile"), message: e };
    let caption = if higher {
        format!("{metric}: fraction of seeds above τ")
    } else {
        format!("{metric}: fraction of seeds at or below τ")
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let e = |e: DrawingAreaErrorKind<std::io::Error>| err(e.to_string());
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_lo..x_hi, 0.0..1.05)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(format!("τ ({metric})"))
            .y_desc("fraction of seeds")
            .light_line_style(RGBColor(235, 235, 235))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(e)?;
        for (i, (label, values)) in lines.iter().enumerate() {
            let mut taus: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            taus.sort_by(f64::total_cmp);
            taus.dedup();
            // A step line: flat between the seeds' values, stepping at each.
            let mut points = vec![(x_lo, fraction_beating(values, x_lo, higher))];
            for &t in &taus {
                points.push((t, points.last().expect("starts with one point").1));
                points.push((t, fraction_beating(values, t, higher)));
            }
            points.push((x_hi, fraction_beating(values, x_hi, higher)));
            let c = color(i);
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))
                .map_err(e)?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(if higher { SeriesLabelPosition::LowerLeft } else { SeriesLabelPosition::LowerRight })
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(e)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(Some(svg))
}

#[cfg(test)]
mod tests {
    use super::fraction_beating;

    #[test]
    fn the_fraction_follows_the_direction() {
        let v = [0.5, 0.9, 1.0, 1.0];
        assert_eq!(fraction_beating(&v, 0.95, true), 0.5);
        assert_eq!(fraction_beating(&v, 1.0, true), 0.0);
        assert_eq!(fraction_beating(&v, 0.9, false), 0.5);
        assert!(fraction_beating(&[], 0.0, true).is_nan());
    }
}
