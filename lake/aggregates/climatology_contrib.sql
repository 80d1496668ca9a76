-- Each float's contribution to each climatology cell: count, sum, sum of squares, and m2, the
-- sum of squared deviations from the float's own mean in the cell. Cells are sums of these over
-- floats, which is what lets a per-float load keep them exact.
-- Each group's values are gathered sorted and summed in that order: a parallel sum's last bit
-- would depend on thread timing, and a reload of the same lake must find every contribution
-- unchanged. (One pass over the points; the mean is known before m2 is summed.)
WITH g AS (
  SELECT float_id, parameter, lat_bin, lon_bin, month, band, list(value ORDER BY value) AS v
  FROM climatology_points
  GROUP BY ALL
), s AS (
  SELECT *, len(v) AS n, list_sum(v) AS sum, list_sum(list_transform(v, x -> x * x)) AS sum_sq
  FROM g
)
SELECT float_id, parameter, lat_bin::INTEGER AS lat_bin, lon_bin::INTEGER AS lon_bin,
       month::INTEGER AS month, band::INTEGER AS band, n::INTEGER AS n, sum, sum_sq,
       list_sum(list_transform(v, x -> (x - sum / n) * (x - sum / n))) AS m2
FROM s
ORDER BY float_id, parameter, lat_bin, lon_bin, month, band;
