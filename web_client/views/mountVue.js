import Vue from 'vue';

// Mount a Vue component inside a Backbone view's element; returns the Vue instance.
export default function mountVue(view, component, propsData) {
    view.$el.html('<div class="h-hl-vue-root"></div>');
    return new Vue({
        el: view.$('.h-hl-vue-root')[0],
        render: (h) => h(component, {props: propsData || {}})
    });
}
