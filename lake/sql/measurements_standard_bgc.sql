-- One BGC parameter {{p}} in the standard view: kept in mode A or D with best QC 1, 2, 5 or 8.
  CASE WHEN {{p}}_mode IN ('A', 'D') AND coalesce({{p}}_qc, 9) IN (1, 2, 5, 8) THEN {{p}} END AS {{p}},
  CASE WHEN {{p}}_mode IN ('A', 'D') AND coalesce({{p}}_qc, 9) IN (1, 2, 5, 8) THEN {{p}}_qc END AS {{p}}_qc,
  CASE WHEN {{p}}_mode IN ('A', 'D') AND coalesce({{p}}_qc, 9) IN (1, 2, 5, 8) THEN {{p}}_adjusted_error END AS {{p}}_error,
  {{p}}_mode
