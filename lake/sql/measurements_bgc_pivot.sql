-- The eight pivoted columns of one BGC parameter {{P}} (column prefix {{p}}).
  CAST(max(value) FILTER (WHERE parameter = '{{P}}') AS FLOAT) AS {{p}},
  max(qc) FILTER (WHERE parameter = '{{P}}') AS {{p}}_qc,
  CAST(max(raw) FILTER (WHERE parameter = '{{P}}') AS FLOAT) AS {{p}}_raw,
  max(raw_qc) FILTER (WHERE parameter = '{{P}}') AS {{p}}_raw_qc,
  CAST(max(adjusted) FILTER (WHERE parameter = '{{P}}') AS FLOAT) AS {{p}}_adjusted,
  max(adjusted_qc) FILTER (WHERE parameter = '{{P}}') AS {{p}}_adjusted_qc,
  CAST(max(adjusted_error) FILTER (WHERE parameter = '{{P}}') AS FLOAT) AS {{p}}_adjusted_error,
  max(mode) FILTER (WHERE parameter = '{{P}}') AS {{p}}_mode
