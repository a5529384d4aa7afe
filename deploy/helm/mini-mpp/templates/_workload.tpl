{{/*
One deployable service: Deployment, Service, ServiceAccount, PodDisruptionBudget, its autoscaler (HPA or KEDA
ScaledObject, never both) and its NetworkPolicy. Called with a dict:
  root       the chart's root context
  component  catalog | intake | routing | notify | web
  site       the site id (intake only)
  v          the component's values (an intake site's: the defaults merged with the site's entry)
  module     the ASGI factory uvicorn runs
  public     true when people or providers outside the cluster call it (ingress from networkPolicy.publicFrom)
  env        extra plain variables of this deployable (a list of {name, value})
  args       extra uvicorn options of this deployable (a list; optional)
*/}}
{{- define "mini-mpp.workload" -}}
{{- $root := .root -}}
{{- $v := .v -}}
{{- $name := include "mini-mpp.objectName" . -}}
{{- $ctx := dict "root" $root "component" .component "site" .site -}}
{{- $mode := $v.autoscaling.mode -}}
{{- $consumers := include "mini-mpp.consumers" . | fromYamlArray -}}
{{- if and (eq $mode "keda") (not $consumers) -}}
{{- fail (printf "%s: autoscaling.mode keda needs a consumer group to read the lag of; %s consumes no topic" $name .component) -}}
{{- end -}}
{{- if and (ne $mode "none") $consumers (gt (int $v.autoscaling.maxReplicas) (int $root.Values.kafka.partitions)) -}}
{{- fail (printf "%s: autoscaling.maxReplicas %v is above kafka.partitions %v: replicas past the partition count would sit idle" $name $v.autoscaling.maxReplicas $root.Values.kafka.partitions) -}}
{{- end -}}
{{- if and (ne $mode "none") (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- fail (printf "%s: autoscaling.minReplicas is above maxReplicas" $name) -}}
{{- end -}}
{{- $drain := 5 -}}
{{- $graceful := sub (int $v.terminationGracePeriodSeconds) (add $drain 5) -}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "mini-mpp.labels" $ctx | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "mini-mpp.labels" $ctx | nindent 4 }}
spec:
  {{- if eq $mode "none" }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "mini-mpp.selectorLabels" $ctx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "mini-mpp.labels" $ctx | nindent 8 }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "mini-mpp.podSecurityContext" $root | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "mini-mpp.selectorLabels" $ctx | nindent 14 }}
      containers:
        - name: {{ .component }}
          image: {{ include "mini-mpp.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            - uvicorn
            - --factory
            - {{ .module }}
            - --host
            - 0.0.0.0
            - --port
            - "8000"
            - --no-access-log
            # SIGTERM arrives after the preStop pause; in-flight requests and the lifespan shutdown (consumers
            # committing, the relay's batch, notify's provider calls) get the rest of the grace period.
            - --timeout-graceful-shutdown
            - {{ $graceful | quote }}
            {{- range .args }}
            - {{ . | quote }}
            {{- end }}
          ports:
            - name: http
              containerPort: 8000
              protocol: TCP
          env:
            - name: SERVICE_NAME
              value: {{ .component | quote }}
            - name: HTTP_PORT
              value: "8000"
            {{- range .env }}
            - name: {{ .name }}
              value: {{ .value | quote }}
            {{- end }}
            {{- include "mini-mpp.commonEnv" $root | nindent 12 }}
            {{- include "mini-mpp.plainEnv" (dict "env" $v.env "what" $name) | nindent 12 }}
            {{- include "mini-mpp.secretEnv" (dict "secretEnv" $v.secretEnv "site" .site) | nindent 12 }}
          # Migrations and topic checks run at start: give the first start time before liveness counts.
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
            failureThreshold: 36
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 4
            failureThreshold: 2
          lifecycle:
            # Endpoints drop the pod while it still serves: no request lands on a closed socket.
            preStop:
              exec:
                command: ["sleep", "{{ $drain }}"]
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "mini-mpp.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- include "mini-mpp.kafkaCaMount" $root | nindent 12 }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- include "mini-mpp.kafkaCaVolume" $root | nindent 8 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "mini-mpp.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "mini-mpp.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: http
      port: 8000
      targetPort: http
      protocol: TCP
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "mini-mpp.labels" $ctx | nindent 4 }}
spec:
  # One pod at a time: a drain never blocks on a single replica, and never takes a whole site down at once
  # when it has two.
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "mini-mpp.selectorLabels" $ctx | nindent 6 }}
{{- if eq $mode "hpa" }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels:
    {{- include "mini-mpp.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.cpuUtilization }}
{{- else if eq $mode "keda" }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $name }}
  labels:
    {{- include "mini-mpp.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ $name }}
  # Never to zero: the service answers HTTP (healthz, public endpoints) whatever the lag.
  minReplicaCount: {{ $v.autoscaling.minReplicas }}
  maxReplicaCount: {{ $v.autoscaling.maxReplicas }}
  pollingInterval: 30
  cooldownPeriod: 300
  triggers:
    {{- range $consumers }}
    - type: kafka
      metadata:
        bootstrapServers: {{ $root.Values.kafka.bootstrapServers | quote }}
        consumerGroup: {{ .group | quote }}
        topic: {{ .topic | quote }}
        lagThreshold: {{ $v.autoscaling.lagThreshold | toString | quote }}
        activationLagThreshold: "0"
        offsetResetPolicy: "earliest"
        allowIdleConsumers: "false"
        {{- if $root.Values.kafka.sasl.mechanism }}
        sasl: {{ get (dict "PLAIN" "plaintext" "SCRAM-SHA-256" "scram_sha256" "SCRAM-SHA-512" "scram_sha512") $root.Values.kafka.sasl.mechanism | quote }}
        {{- end }}
        {{- if or (eq $root.Values.kafka.securityProtocol "SSL") (eq $root.Values.kafka.securityProtocol "SASL_SSL") }}
        tls: "enable"
        {{- end }}
      {{- if or $root.Values.kafka.sasl.mechanism $root.Values.kafka.tls.caSecret }}
      authenticationRef:
        name: {{ include "mini-mpp.fullname" $root }}-kafka
      {{- end }}
    {{- end }}
{{- end }}
{{- if $root.Values.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  labels:
    {{- include "mini-mpp.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "mini-mpp.selectorLabels" $ctx | nindent 6 }}
  policyTypes: [Ingress, Egress]
  {{- $ingress := include "mini-mpp.ingressRules" . }}
  {{- if $ingress }}
  ingress:
    {{- $ingress | nindent 4 }}
  {{- else }}
  ingress: []
  {{- end }}
  egress:
    {{- include "mini-mpp.dnsEgress" $root | nindent 4 }}
    {{- if eq .component "web" }}
    - ports:
        - {protocol: TCP, port: 8000}
      to:
        {{- range list "catalog" "intake" }}
        - podSelector:
            matchLabels:
              {{- include "mini-mpp.selectorLabels" (dict "root" $root "component" .) | nindent 14 }}
        {{- end }}
    {{- else }}
    {{- include "mini-mpp.egressTo" $root.Values.kafka | nindent 4 }}
    {{- include "mini-mpp.egressTo" $root.Values.postgresql | nindent 4 }}
    {{- end }}
    {{- if $root.Values.telemetry.otlpEndpoint }}
    {{- include "mini-mpp.egressTo" (dict "ports" (list $root.Values.telemetry.otlpPort) "peers" $root.Values.telemetry.peers) | nindent 4 }}
    {{- end }}
    {{- if eq .component "notify" }}
    # The SMS providers' HTTPS APIs, outside the cluster.
    - ports:
        {{- range $v.smsEgress.ports }}
        - {protocol: TCP, port: {{ . }}}
        {{- end }}
      to:
        - ipBlock:
            cidr: {{ $v.smsEgress.cidr }}
            {{- with $v.smsEgress.except }}
            except:
              {{- toYaml . | nindent 14 }}
            {{- end }}
    {{- end }}
{{- end }}
{{- end -}}


{{/* Ingress rules of a deployable's NetworkPolicy (empty: nothing may connect). */}}
{{- define "mini-mpp.ingressRules" -}}
{{- $root := .root -}}
{{- if .public }}
- ports:
    - {protocol: TCP, port: 8000}
  {{- with $root.Values.networkPolicy.publicFrom }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- if and $root.Values.web.enabled (has .component (list "catalog" "intake")) }}
- ports:
    - {protocol: TCP, port: 8000}
  from:
    - podSelector:
        matchLabels:
          {{- include "mini-mpp.selectorLabels" (dict "root" $root "component" "web") | nindent 10 }}
{{- end }}
{{- with $root.Values.networkPolicy.metricsFrom }}
- ports:
    - {protocol: TCP, port: 8000}
  from:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}
