{{- define "hello.fullname" -}}{{ .Release.Name }}{{- end -}}
{{- define "hello.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{/* sandbox.readyAfter ("40s", "2m") in whole seconds, for the real node's readiness probe. */}}
{{- define "hello.readyAfterSeconds" -}}
{{- with .Values.sandbox.readyAfter -}}
{{- if hasSuffix "ms" . -}}1
{{- else if hasSuffix "m" . -}}{{ mul (trimSuffix "m" .) 60 }}
{{- else -}}{{ trimSuffix "s" . }}
{{- end -}}
{{- end -}}
{{- end -}}
