-- One BGC parameter {{P}} (column prefix {{p}}) in a user-mode view: kept when {{rule}}
-- holds for its row of bgc_measurements; {{value}} and {{error}} name the columns taken.
  CAST(max({{value}}) FILTER (WHERE parameter = '{{P}}' AND {{rule}}) AS FLOAT) AS {{p}},
  max({{qc}}) FILTER (WHERE parameter = '{{P}}' AND {{rule}}) AS {{p}}_qc,
  CAST(max({{error}}) FILTER (WHERE parameter = '{{P}}' AND {{rule}}) AS FLOAT) AS {{p}}_error,
  max(mode) FILTER (WHERE parameter = '{{P}}') AS {{p}}_mode
