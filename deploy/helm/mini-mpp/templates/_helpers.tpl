{{/* Names ---------------------------------------------------------------------------------------------- */}}

{{- define "mini-mpp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mini-mpp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one deployable: <fullname>-<component>[-<site>]. Never truncated: two sites must not collide
     after a cut, so a name over 63 characters fails the render instead. */}}
{{- define "mini-mpp.objectName" -}}
{{- $name := printf "%s-%s" (include "mini-mpp.fullname" .root) .component -}}
{{- if .site }}{{ $name = printf "%s-%s" $name .site }}{{ end -}}
{{- if gt (len $name) 63 -}}
{{- fail (printf "object name %q is longer than 63 characters: shorten the release name or fullnameOverride" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------------------------------------- */}}

{{- define "mini-mpp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mini-mpp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- if .site }}
mini-mpp/site: {{ .site }}
{{- end }}
{{- end -}}

{{- define "mini-mpp.labels" -}}
{{ include "mini-mpp.selectorLabels" . }}
app.kubernetes.io/part-of: mini-mpp
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Image and security ----------------------------------------------------------------------------------- */}}

{{- define "mini-mpp.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ $tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "mini-mpp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "mini-mpp.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment ------------------------------------------------------------------------------------------ */}}

{{/* What every service and Job reads: broker, its security settings, logging, tracing. */}}
{{- define "mini-mpp.commonEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if .Values.kafka.sasl.mechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ .Values.kafka.sasl.existingSecret | quote }}, key: {{ .Values.kafka.sasl.usernameKey | quote }}}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.kafka.sasl.existingSecret | quote }}, key: {{ .Values.kafka.sasl.passwordKey | quote }}}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: KAFKA_SSL_CAFILE
  value: /etc/mini-mpp/kafka-ca/{{ .Values.kafka.tls.caKey }}
{{- end }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
{{- if .Values.telemetry.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.telemetry.otlpEndpoint | quote }}
{{- end }}
{{- end -}}

{{/* Plain variables of a component: a name that looks like a secret fails the render (secrets go through
     secretEnv, never through values). */}}
{{- define "mini-mpp.plainEnv" -}}
{{- range $name, $value := .env }}
{{- if regexMatch "(TOKEN|PASSWORD|PASSKEY|SECRET|_KEY$|DATABASE_URL|ACCOUNTS$)" $name }}
{{- fail (printf "%s: %s looks like a secret; reference a Secret in secretEnv instead of a value" $.what $name) }}
{{- end }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Variables read from existing Secrets; `{site}` in a name or key becomes the site id. `prefix` renames
     the variables (the migration Job holds several DATABASE_URLs). */}}
{{- define "mini-mpp.secretEnv" -}}
{{- range $name, $ref := .secretEnv }}
- name: {{ printf "%s%s" ($.prefix | default "") $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secret | replace "{site}" ($.site | default "") | quote }}
      key: {{ $ref.key | replace "{site}" ($.site | default "") | quote }}
{{- end }}
{{- end -}}

{{- define "mini-mpp.kafkaCaVolume" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret | quote }}
    items:
      - key: {{ .Values.kafka.tls.caKey | quote }}
        path: {{ .Values.kafka.tls.caKey | quote }}
{{- end }}
{{- end -}}

{{- define "mini-mpp.kafkaCaMount" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/mini-mpp/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* NetworkPolicy pieces --------------------------------------------------------------------------------- */}}

{{/* One egress rule to `peers` (any address when empty) on `ports` (TCP). */}}
{{- define "mini-mpp.egressTo" -}}
- ports:
  {{- range .ports }}
    - {protocol: TCP, port: {{ . }}}
  {{- end }}
  {{- with .peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "mini-mpp.dnsEgress" -}}
- ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
  {{- with .Values.networkPolicy.dns }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Consumer groups of a component, for KEDA's Kafka triggers: a list of {group, topic}. */}}
{{- define "mini-mpp.consumers" -}}
{{- if eq .component "routing" -}}
- {group: routing, topic: intake.application.v1}
{{- else if eq .component "notify" -}}
- {group: notify-routing, topic: routing.decision.v1}
- {group: notify-intake, topic: intake.application.v1}
{{- else if eq .component "intake" -}}
- {group: {{ printf "intake-%s-decisions" .site }}, topic: routing.decision.v1}
- {group: {{ printf "intake-%s-inbox" .site }}, topic: {{ printf "site.%s.inbox.v1" .site }}}
{{- end -}}
{{- end -}}
