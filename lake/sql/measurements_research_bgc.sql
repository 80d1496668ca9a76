-- One BGC parameter {{p}} in the research view: kept in mode D with adjusted QC 1, 5 or 8.
  CASE WHEN {{p}}_mode = 'D' AND {{p}}_adjusted_qc IN (1, 5, 8) THEN {{p}}_adjusted END AS {{p}},
  CASE WHEN {{p}}_mode = 'D' AND {{p}}_adjusted_qc IN (1, 5, 8) THEN {{p}}_adjusted_qc END AS {{p}}_qc,
  CASE WHEN {{p}}_mode = 'D' AND {{p}}_adjusted_qc IN (1, 5, 8) THEN {{p}}_adjusted_error END AS {{p}}_error,
  {{p}}_mode
